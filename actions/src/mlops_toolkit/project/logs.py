"""One logging configuration for every project command: console plus a log file per run."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_DIR = Path("logs")
# Third-party chatter stays at WARNING unless the user asked for DEBUG.
NOISY = ("mlflow", "great_expectations", "alembic", "urllib3", "matplotlib")


def configure(level: str | None, command: str, level_env: str = "") -> Path:
    """Log to stderr and to logs/<time>-<pid>-<command>.log; return the file's path.

    The level comes from --log-level, else the variable ``level_env``, else INFO.
    """
    level = (level or (os.environ.get(level_env) if level_env else None) or "INFO").upper()
    LOG_DIR.mkdir(exist_ok=True)
    path = LOG_DIR / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{command}.log"
    handlers: list[logging.Handler] = [logging.StreamHandler(), logging.FileHandler(path)]
    logging.basicConfig(level=level, format=FORMAT, handlers=handlers, force=True)
    if level != "DEBUG":
        for noisy in NOISY:
            logging.getLogger(noisy).setLevel(logging.WARNING)
        # Each of MLflow's (bounded) retries is a urllib3 warning: when the tracking server is
        # gone, the one line that counts is the command's own error after the last retry.
        logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    return path
