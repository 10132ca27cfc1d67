"""Networks (U-Net baseline, W-Net), their model cards, and the bundled model zoo."""
