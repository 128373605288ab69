"""The MLflow tracking server: the client, its probe, and the runs left open."""
