"""Many slides at once: one slide's detection (``engine.detect.detect_slide``) run as a task on
a Dask cluster (``run``), the clusters it runs on (``cluster``) and the manifest that makes a
re-run do only what is left (``manifest``)."""
