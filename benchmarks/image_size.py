"""Image size and cold start: the generated project's image vs `mlflow models generate-dockerfile`.

Both images serve the same MLflow model (a breast-cancer sklearn Pipeline saved the way the
project's train step saves it) and are built on the same local base, `python:3.11-slim` (built
by .ci/docker-up from Debian, since no registry is reachable). MLflow's generated Dockerfile is
used as generated, with two adaptations to that base, both printed:
  * `FROM python:3.11.x-slim` -> `FROM python:3.11-slim` (the local base image);
  * `ENV PIP_BREAK_SYSTEM_PACKAGES=1` after FROM: Debian's python refuses `pip install` into the
    system environment (PEP 668), which the official python image allows.
Cold start: `docker run` until the health endpoint answers 200 (ours: /health, MLflow's: /ping).

    python benchmarks/image_size.py        (needs .ci/docker-up; about 5 minutes cold)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _project import tests_module

bake, save_model = (getattr(tests_module("serving/conftest.py"), n) for n in ("bake", "save_model"))

BASE = "python:3.11-slim"


def docker(*args: str, timeout: float = 1800) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise SystemExit(f"docker {' '.join(args[:2])} failed: {result.stderr[-1500:]}")
    return result.stdout


def size_mb(tag: str) -> float:
    return int(docker("image", "inspect", "--format", "{{.Size}}", tag)) / 1e6


def cold_start(tag: str, path: str) -> float:
    """Seconds from `docker run` to the first 200 on `path`."""
    start = time.monotonic()
    cid = docker("run", "-d", "-p", "127.0.0.1::8080", tag).strip()
    try:
        port = docker("port", cid, "8080/tcp").strip().splitlines()[0].rsplit(":", 1)[1]
        while time.monotonic() - start < 300:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                    if r.status == 200:
                        return time.monotonic() - start
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"{tag} never answered {path}")
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)


def build_ours(work: Path) -> str:
    project = bake(work / "project")
    save_model(project / "build/model")
    docker(
        "build",
        "--network",
        "host",
        "-t",
        "bench-ours:1",
        "--build-arg",
        "MODEL_DIR=build/model",
        "--build-arg",
        "MODEL_VERSION=1",
        str(project),
    )
    return "bench-ours:1"


def build_mlflow(work: Path) -> str:
    model = save_model(work / "model")
    out = work / "mlflow-docker"
    subprocess.run(
        [
            "mlflow",
            "models",
            "generate-dockerfile",
            "-m",
            str(model),
            "-d",
            str(out),
            "--env-manager",
            "local",
        ],
        check=True,
        capture_output=True,
    )
    dockerfile = out / "Dockerfile"
    text = dockerfile.read_text()
    adapted = re.sub(
        r"^FROM python:[\w.]+-slim$",
        f"FROM {BASE}\nENV PIP_BREAK_SYSTEM_PACKAGES=1",
        text,
        count=1,
        flags=re.M,
    )
    if adapted == text:
        raise SystemExit("unexpected MLflow Dockerfile: no FROM python:*-slim line")
    dockerfile.write_text(adapted)
    print(
        "MLflow Dockerfile, adapted:", *[f"  {line}" for line in adapted.splitlines()[:3]], sep="\n"
    )
    docker("build", "--network", "host", "-t", "bench-mlflow:1", str(out))
    return "bench-mlflow:1"


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    base = size_mb(BASE)
    with tempfile.TemporaryDirectory(prefix="image-bench-") as tmp:
        work = Path(tmp)
        ours = build_ours(work)
        theirs = build_mlflow(work)
    result = {
        "base_mb": round(base, 1),
        "ours_mb": round(size_mb(ours), 1),
        "mlflow_mb": round(size_mb(theirs), 1),
        "ours_cold_start_s": round(cold_start(ours, "/health"), 2),
        "mlflow_cold_start_s": round(cold_start(theirs, "/ping"), 2),
    }
    result["size_ratio"] = round(result["ours_mb"] / result["mlflow_mb"], 3)
    result["added_over_base_ratio"] = round(
        (result["ours_mb"] - base) / (result["mlflow_mb"] - base), 3
    )
    print(json.dumps(result, indent=2))
    if shutil.which("docker"):
        for tag in (ours, theirs):
            subprocess.run(["docker", "rmi", tag], capture_output=True)
    return 0 if result["size_ratio"] <= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
