"""The model registry: versions and aliases, its lock, and reading a model directory."""
