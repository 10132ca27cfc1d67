"""Running models: on in-memory images (predict) and over slides, tile by tile (detect)."""
