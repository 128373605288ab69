"""One module per `mlops-toolkit` subcommand, each with `add_parser(subparsers)` and `run(args)`.

Modules here import only the standard library and the toolkit's light modules at import time, so
that `--help` stays instant; each `run` imports what its command needs (MLflow, Docker, ...).
"""
