"""train: detect GPUs, run the project's training command, tag the run with the compute used."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import names, tracking
from .errors import ToolkitError
from .process import run_command


@dataclass
class Compute:
    count: int
    name: str
    driver: str

    @property
    def kind(self) -> str:
        return "gpu" if self.count else "cpu"

    def tags(self) -> dict[str, str]:
        return {names.TAG_COMPUTE: self.kind, names.TAG_GPU_COUNT: str(self.count),
                names.TAG_GPU_NAME: self.name, names.TAG_GPU_DRIVER: self.driver}


def detect(nvidia_smi: str = "nvidia-smi") -> Compute:
    """GPUs as nvidia-smi sees them; cpu when the tool is missing or finds none."""
    exe = shutil.which(nvidia_smi)
    if not exe:
        return Compute(0, "cpu", "none")
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return Compute(0, "cpu", "none")
    rows = [[p.strip() for p in line.split(",")] for line in out.splitlines() if line.strip()]
    if not rows:
        return Compute(0, "cpu", "none")
    gpu_names = sorted({r[0] for r in rows})
    return Compute(len(rows), " + ".join(gpu_names), rows[0][1] if len(rows[0]) > 1 else "")


def read_run_json(path: Path) -> dict:
    if not path.is_file():
        raise ToolkitError(f"training wrote no {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ToolkitError(f"{path} is not valid JSON") from exc
    for key in ("run_id", "model_uri"):
        if not data.get(key):
            raise ToolkitError(f"{path} lacks {key}")
    return data


def run(command: str, workdir: str, *, require_gpu: bool, timeout_s: float | None,
        run_json: str = names.RUN_JSON) -> dict:
    compute = detect()
    if require_gpu and compute.count == 0:
        raise ToolkitError("require-gpu is set but nvidia-smi finds no GPU on this runner")
    run_file = Path(workdir) / run_json
    if run_file.exists():
        run_file.unlink()
    env = {"MLOPS_COMPUTE": compute.kind, "MLOPS_GPU_COUNT": str(compute.count)}
    code = run_command(command, workdir, timeout_s=timeout_s, env=env, what="training command")
    if code != 0:
        raise ToolkitError(f"training command exited with status {code}")
    data = read_run_json(run_file)
    client = tracking.client()
    try:
        for key, value in compute.tags().items():
            client.set_tag(data["run_id"], key, value)
    except Exception as exc:
        raise ToolkitError(f"cannot tag run {data['run_id']}: {tracking.one_line(exc)}") from exc
    return {**data, "compute": compute.kind, "gpu_count": compute.count,
            "gpu_name": compute.name, "gpu_driver": compute.driver}
