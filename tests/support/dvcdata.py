"""A project's data on a DVC remote in moto's S3 server (MinIO images cannot be pulled here):
the e2e scenario's, and the drift workflow's (tests/serving/test_drift_workflow.py).

A laptop's part: `dvc add` a CSV, `dvc push` it to S3. What the workflows then see: a checkout
with the `.dvc` file only (the data, DVC's cache and the laptop's remote settings are gone), the
remote URL and endpoint as repository variables, the S3 keys as secrets.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import yaml

from support.servers import free_port

BUCKET = "e2e-dvc"
SOURCE = "data/external/tumors.csv"
ROWS = 550  # fewer than the sample's 569: a model trained on these rows was trained on the pull
# act masks secret values in its log: neither may be a substring of the bucket or the paths.
KEYS = {"AWS_ACCESS_KEY_ID": "AKIAE2ETESTKEY", "AWS_SECRET_ACCESS_KEY": "e2e-S3cret-key"}
PULLED = f"pulled 1 path(s) from DVC remote ci (s3://{BUCKET}/dvc): {SOURCE}"


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 API on loopback with one bucket; yields the endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", **_boto_keys()
    ).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


def _boto_keys() -> dict[str, str]:
    return {k.lower(): v for k, v in KEYS.items()}


def push_from_a_laptop(project: Path, endpoint: str) -> dict[str, str]:
    """Track SOURCE (the sample's first ROWS rows) as data.source, push it, forget it locally.

    Returns the repository variables of the remote."""
    url = f"s3://{BUCKET}/dvc"
    write_source(project)
    params = project / "params.yaml"
    raw = yaml.safe_load(params.read_text())
    raw["data"]["source"] = SOURCE
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    for args in (
        ["init", "--quiet"],
        ["add", "--quiet", SOURCE],
        ["remote", "add", "--local", "laptop", url],
        ["remote", "modify", "--local", "laptop", "endpointurl", endpoint],
        ["push", "--quiet", "--remote", "laptop"],
    ):
        _dvc(project, args)
    (project / SOURCE).unlink()
    shutil.rmtree(project / ".dvc" / "cache")
    (project / ".dvc" / "config.local").unlink()
    return {"DVC_REMOTE_URL": url, "DVC_S3_ENDPOINT_URL": endpoint}


def write_source(root: Path) -> Path:
    """SOURCE under ``root``: the sample's first ROWS rows, with the sample's own column names
    as the project's loader writes them (snake_case)."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.head(ROWS)
    frame.columns = [
        re.sub(r"[^0-9a-zA-Z]+", "_", str(c)).strip("_").lower() for c in frame.columns
    ]
    path = root / SOURCE
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def _dvc(project: Path, args: list[str]) -> None:
    env = {**os.environ, **KEYS, "DVC_NO_ANALYTICS": "1"}
    done = subprocess.run(["dvc", *args], cwd=project, capture_output=True, text=True, env=env)
    assert done.returncode == 0, f"dvc {' '.join(args)}: {done.stdout}{done.stderr}"
