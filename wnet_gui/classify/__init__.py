"""Classes taught by the user: features the detector already computes at each nucleus
(``features``), a small head learned from the nuclei a pathologist labelled (``head``), kept as
a classifier card of JSON and arrays (``card``). Qt-free; the GUI and the CLI call it alike."""
