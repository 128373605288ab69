"""Helpers shared by the test packages (on sys.path through pytest's `pythonpath = tests`)."""
