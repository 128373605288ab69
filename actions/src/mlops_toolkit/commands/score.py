"""`score`: a CSV or Parquet file (or a DVC-tracked path) scored by the production model.

The model behind the registry alias (`production` unless told) is downloaded and loaded as the
scoring server loads it, so a row scores the same in a batch as in a request. The output is
Parquet: the input's id columns, a prediction id per row, the prediction, each class's
probability (classifiers), the model's name and version and the time. Every row is logged to the
prediction store so that its label can come back (`labels`). See serving/batch_job.py.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from .. import names
from . import options

# A chunk's rows share one batch of prediction ids (monitoring/store/ids.py: up to 16**6).
MAX_CHUNK_ROWS = 1_000_000


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "score", help="score a CSV/Parquet file with the production model, to Parquet"
    )
    options.model_name(p)
    p.add_argument("--input", required=True, help="CSV or Parquet file (or a DVC-tracked path)")
    p.add_argument("--output", default="", help="Parquet file; default <input>.predictions.parquet")
    p.add_argument("--alias", default=names.PRODUCTION, help="registry alias of the model")
    p.add_argument(
        "--id-columns",
        default=None,
        help="comma-separated columns copied to the output; default: the input's columns the "
        "model does not use named id, *_id, *key or *uuid",
    )
    p.add_argument("--chunk-rows", type=int, default=100_000, help="rows in memory at a time")
    options.prediction_store(p)
    options.flag(p, "--log", True, "log every prediction to the store")
    p.add_argument(
        "--environment",
        default=os.environ.get(names.ENV_ENVIRONMENT) or "batch",
        help=f"recorded with each prediction; default ${names.ENV_ENVIRONMENT}, else batch",
    )
    options.flag(p, "--probabilities", True, "a probability column per class (classifiers)")
    options.flag(p, "--progress", True, "a progress bar on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..registry.mlmodel import import_skops_first

    import_skops_first()  # before DVC and MLflow: skops' import costs ~0.7 CPU-s less (see there)
    from ..ci import actions as ghactions
    from ..errors import InputError
    from ..serving import batch, batch_job

    if not 1 <= args.chunk_rows <= MAX_CHUNK_ROWS:
        raise InputError(f"--chunk-rows must be in [1, {MAX_CHUNK_ROWS}], got {args.chunk_rows}")
    path = Path(args.input)
    _pull_if_tracked(path)
    source = batch.open_source(path)
    version, model = _production_model(args.model_name, args.alias)
    ids = _id_columns(args.id_columns, source, model)
    output = Path(args.output or str(path.with_suffix("")) + ".predictions.parquet")
    job = batch_job.Job(
        model=model,
        model_name=args.model_name,
        model_version=version,
        source=source,
        output=output,
        id_columns=ids,
        chunk_rows=args.chunk_rows,
        probabilities=args.probabilities,
        store_url=_store_url(args) if args.log else None,
        environment=args.environment,
        progress=args.progress,
    )
    result = batch_job.run(job)
    logged = f", {result.logged} logged to the prediction store" if args.log else ""
    print(
        f"scored {result.rows} rows of {path} with {args.model_name} version {version} "
        f"({args.alias}) into {output}{logged} in {result.seconds:.1f} s"
    )
    ghactions.set_outputs(
        {"rows": result.rows, "output": output, "model-version": version, "logged": result.logged}
    )
    ghactions.add_summary(
        f"## Batch scoring\n\n{result.rows} rows of `{path}` scored by `{args.model_name}` "
        f"version {version} (`{args.alias}`) into `{output}`{logged}.\n"
    )
    return 0


def _id_columns(given: str | None, source, model) -> list[str]:
    from ..serving import batch

    if given is None:
        return batch.default_id_columns(source, model)
    return [name.strip() for name in given.split(",") if name.strip()]


def _store_url(args: argparse.Namespace) -> str:
    from ..monitoring.store import store_url

    return store_url(args.store or None)


def _production_model(model_name: str, alias: str):
    """(version, the model loaded as the server loads it) of `model_name@alias`."""
    import mlflow

    from ..errors import ToolkitError
    from ..registry.moves import check_model_name
    from ..serving.model import load_for_serving
    from ..tracking import client as tracking

    check_model_name(model_name)
    found = tracking.version_by_alias(tracking.client(), model_name, alias)
    if found is None:
        raise ToolkitError(
            f"model {model_name} has no version with alias '{alias}': nothing to score with "
            "(promote a version first)"
        )
    with tempfile.TemporaryDirectory(prefix="mlops-score-") as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=found.uri, dst_path=tmp, tracking_uri=tracking.tracking_uri()
            )
        except Exception as exc:
            raise ToolkitError(f"cannot download {found.uri}: {tracking.one_line(exc)}") from exc
        return found.version, load_for_serving(local)


def _pull_if_tracked(path: Path) -> None:
    """A DVC-tracked path missing from the checkout is pulled from the remote (pull-data's)."""
    if path.exists():
        return
    from ..data import dvcremote
    from ..errors import InputError, ToolkitError

    cwd = Path(".")
    if not dvcremote.is_dvc_project(cwd):
        return
    wanted = os.path.normpath(str(path))
    owners = [
        t
        for t in dvcremote.tracked(cwd)
        if any(wanted == out or wanted.startswith(out.rstrip("/") + os.sep) for out in t.outs)
    ]
    if not owners:
        return
    remote = dvcremote.configure(
        cwd,
        os.environ.get(names.ENV_DVC_REMOTE_URL, ""),
        os.environ.get(names.ENV_DVC_S3_ENDPOINT_URL, ""),
    )
    if remote is None:
        raise InputError(
            f"{path} is tracked by DVC but missing, and no DVC remote is configured: set "
            f"{names.ENV_DVC_REMOTE_URL}"
        )
    try:
        dvcremote.pull(cwd, [owners[0].dvc_file])
    except dvcremote.DvcFailed as exc:
        raise ToolkitError(f"dvc pull {owners[0].dvc_file}: {exc}") from None
