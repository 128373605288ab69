"""Drift monitoring: compare logged predictions with the training reference (see `drift.py`)."""
