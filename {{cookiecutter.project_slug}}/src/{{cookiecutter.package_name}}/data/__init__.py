"""Data: load the source, split it, validate it."""
