"""`python -m <package>.serving [--model-dir DIR] [--host H] [--port P]`: run the server.

By default the port opens at once and the model loads behind it (/health says "loading").
With SERVING_REUSE_PORT=1 (replicas sharing the port) the model loads first and the port is
bound with SO_REUSEPORT after; SERVING_HEALTH_SOCKET adds a Unix socket for `healthcheck`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from ..core import gc_pace
from .settings import Settings


def serve(settings: Settings) -> int:
    """Run until stopped; exit status 1 when the model cannot be loaded."""
    gc_pace.importing()  # until the model is loaded (ScoringApp.load): core/gc_pace.py
    import uvicorn

    from . import listen
    from .app import ScoringApp
    from .graceful import DrainingServer
    from .protocol import guarded

    app = ScoringApp(settings)
    if settings.reuse_port:
        # The port is shared and the kernel sends connections to every listener: load first,
        # listen after (the app then starts with its model and skips its background load).
        _exit_on_sigterm()
        app.load()
        if app.load_error:
            return 1
    try:
        sockets = listen.sockets(settings)
    except OSError as exc:
        print(f"error: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        http=guarded(settings.header_timeout),
    )
    server = DrainingServer(config)

    def stop() -> None:
        server.should_exit = True

    app.on_load_failure = stop
    server.run(sockets=sockets)
    return 1 if app.load_error else 0


def _exit_on_sigterm() -> None:
    """As PID 1 in a container a signal without a handler is ignored: a stop during the load
    would wait for the kill. uvicorn installs its own (graceful) handler once it serves."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="serve", description=__doc__)
    parser.add_argument("--model-dir", help="MLflow model directory (default: $MODEL_DIR)")
    parser.add_argument("--host", help="address to bind (default: $SERVING_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: $SERVING_PORT or 8080)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env(model_dir=args.model_dir, host=args.host, port=args.port)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
