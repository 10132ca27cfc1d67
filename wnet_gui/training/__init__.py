"""Training of the detection models on MoNuSeg (and later CRCHisto)."""
