"""`python -m <package>.serving [--model-dir DIR] [--host H] [--port P]`: run the server."""

from __future__ import annotations

import argparse
import logging
import sys

from .settings import Settings


def serve(settings: Settings) -> int:
    """Run until stopped; exit status 1 when the model cannot be loaded."""
    import uvicorn

    from .app import ScoringApp

    app = ScoringApp(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)

    def stop() -> None:
        server.should_exit = True

    app.on_load_failure = stop
    server.run()
    return 1 if app.load_error else 0


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
