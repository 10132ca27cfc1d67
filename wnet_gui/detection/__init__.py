"""Detection maths with no I/O: training targets, peak finding, matching metrics."""
