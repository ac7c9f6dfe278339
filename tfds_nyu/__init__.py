"""TFDS builders for NYU Depth v1 + v2 with region-support targets (the dataset issue)."""
