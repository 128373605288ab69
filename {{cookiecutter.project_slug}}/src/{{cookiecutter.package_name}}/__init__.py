"""Data, models, pipelines and the command line of this project."""

__version__ = "0.1.0"
