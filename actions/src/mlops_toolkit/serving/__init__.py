"""Scoring server: an MLflow-compatible `/invocations` endpoint without MLflow's server stack.

`python -m <package>.serving` starts it (see `settings.py` for the environment it reads).
"""
