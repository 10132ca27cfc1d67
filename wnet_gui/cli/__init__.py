"""Headless command line: a thin layer over the engine (``wnet --help``)."""
