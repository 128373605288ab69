"""`retrain-data`: the next DVC version of the training data, with the labelled production rows.

The project's DVC-tracked source (params.yaml's `data.source`, pulled first) gets every
labelled prediction of the model in one environment (optionally scored within a window) that it
does not hold yet: the inputs under their column names, the label as the target column. The
result is `dvc add`ed: a new data version, its pointers ready to commit (`retrain-pr`). No
labelled row, an unknown model, a store that is down or rows that do not fit the data's columns
and types: one line, exit 1, nothing written.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import options

SUMMARY_HEADING = "## Next data version"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "retrain-data", help="next DVC data version: the tracked data plus labelled predictions"
    )
    options.model_name(p)
    p.add_argument(
        "--environment", default="production", help="whose predictions (default: %(default)s)"
    )
    p.add_argument(
        "--since", default="", help="only rows scored in this window (e.g. 30d); empty: all"
    )
    p.add_argument(
        "--data", default="", help="the DVC-tracked file (default: params.yaml's data.source)"
    )
    p.add_argument(
        "--target", default="", help="the target column (default: params.yaml's data.target)"
    )
    p.add_argument("--params", default="params.yaml", help="the project's params file")
    options.prediction_store(p)
    p.add_argument(
        "--output", default="", help="the summary JSON (default: reports/retrain/data.json)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..ci import actions
    from ..contracts import RetrainDataFile
    from ..data import nextversion
    from ..monitoring.durations import seconds
    from ..monitoring.store import open_store

    data, target = _data_and_target(args)
    since = time.time() - seconds(args.since, "--since") if args.since.strip() else None
    with open_store(args.store or None) as store:
        rows = nextversion.labelled_rows(store, args.model_name, args.environment, since)
    done = nextversion.extend(Path(data), rows, target, root=Path.cwd())
    summary = RetrainDataFile.build(
        {
            "model_name": args.model_name,
            "environment": args.environment,
            "data": done.data,
            "ids": done.ids,
            "data_md5": _md5(Path(done.dvc_files[0])),
            "rows_before": done.rows_before,
            "rows_added": done.rows_added,
            "labelled": done.labelled,
            "already": done.already,
            "dvc_files": done.dvc_files,
            "commit_paths": done.commit_paths,
            "left_empty": done.left_empty,
            "since": since,
            "label_from": done.label_from,
            "label_to": done.label_to,
            "scored_from": done.scored_from,
            "scored_to": done.scored_to,
        }
    )
    path = summary.write(args.output or None)
    line = (
        f"{done.rows_added} labelled {args.environment} row(s) of {args.model_name} added to "
        f"{done.data} ({done.rows_before} before, {done.already} there already); new DVC "
        f"version {summary.data_md5[:8]}"
    )
    print(line)
    if done.left_empty:
        print(f"left empty in the new rows (not model inputs): {', '.join(done.left_empty)}")
    actions.set_outputs(
        {
            "rows-added": done.rows_added,
            "data-version": summary.data_md5,
            "summary": str(path),
            "dvc-files": " ".join(done.dvc_files),
        }
    )
    actions.add_summary(f"{SUMMARY_HEADING}\n\n{line}.\n")
    return 0


def _data_and_target(args: argparse.Namespace) -> tuple[str, str]:
    """--data/--target, else params.yaml's data.source/data.target."""
    from ..errors import InputError

    data, target = args.data, args.target
    if data and target:
        return data, target
    config: dict = {}
    params = Path(args.params)
    if params.is_file():
        import yaml

        try:
            config = (yaml.safe_load(params.read_text(encoding="utf-8")) or {}).get("data") or {}
        except (yaml.YAMLError, AttributeError):
            raise InputError(f"{params} is not the project's params YAML") from None
    data = data or str(config.get("source") or "")
    target = target or str(config.get("target") or "target")
    if not data:
        raise InputError(f"no data to extend: give --data or data.source in {params}")
    if ":" in data and not Path(data).exists():  # sklearn:breast_cancer, a sample
        raise InputError(
            f"data.source {data} is a sample, not a DVC-tracked file: retraining adds rows to "
            "the team's own data (init-data tracks it with DVC)"
        )
    return data, target


def _md5(dvc_file: Path) -> str:
    """The md5 of the data version a `.dvc` pointer names."""
    import yaml

    spec = yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}
    outs = spec.get("outs") or [{}]
    return str(outs[0].get("md5") or outs[0].get("hash") or "")
