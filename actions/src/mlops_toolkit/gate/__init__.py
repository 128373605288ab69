"""The gate: gate.yaml, the paired bootstrap, and the verdict of candidate against production."""
