"""The project's data: the DVC remote and the validation report."""
