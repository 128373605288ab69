"""train: detect GPUs, run the project's training command, tag the run with the compute used."""

from __future__ import annotations

from pathlib import Path

from .. import contracts, names
from ..core.process import run_command
from ..errors import ToolkitError
from ..tracking import client as tracking
from . import gpu


def read_run_json(path: Path) -> dict:
    if not path.is_file():
        raise ToolkitError(f"training wrote no {path}")
    return contracts.RunFile.read(path).to_dict()


def runner_image() -> str:
    """What the training ran on, for the model passport: a GitHub-hosted runner's image (its
    ImageOS and ImageVersion), else the machine (a self-hosted runner's name) and Python."""
    import os
    import platform

    # GitHub spells these two in mixed case on its hosted runners; act sets ImageOS alone
    # (from the runner label), which names no image.
    image = os.environ.get("ImageOS"), os.environ.get("ImageVersion")  # noqa: SIM112
    if all(image):
        return f"GitHub-hosted runner image {' '.join(image)}"
    runner = os.environ.get("RUNNER_NAME")
    machine = f"{platform.platform()}, Python {platform.python_version()}"
    return f"self-hosted runner {runner}: {machine}" if runner else machine


def run(
    command: str,
    workdir: str,
    *,
    require_gpu: bool,
    timeout_s: float | None,
    run_json: str = str(contracts.RunFile.PATH),
) -> dict:
    compute = gpu.detect()
    if require_gpu and compute.count == 0:
        raise ToolkitError("require-gpu is set but nvidia-smi finds no GPU on this runner")
    run_file = Path(workdir) / run_json
    if run_file.exists():
        run_file.unlink()
    env = {names.ENV_COMPUTE: compute.kind, names.ENV_GPU_COUNT: str(compute.count)}
    code = run_command(command, workdir, timeout_s=timeout_s, env=env, what="training command")
    if code != 0:
        raise ToolkitError(f"training command exited with status {code}")
    data = read_run_json(run_file)
    from mlflow.entities import RunTag

    client = tracking.client()
    tags = [RunTag(key, value) for key, value in compute.tags().items()]
    tags.append(RunTag(names.TAG_TRAIN_IMAGE, runner_image()))
    try:  # one request: the run has all of its compute tags or none
        client.log_batch(data["run_id"], tags=tags)
    except Exception as exc:
        raise ToolkitError(f"cannot tag run {data['run_id']}: {tracking.one_line(exc)}") from exc
    return {
        **data,
        "compute": compute.kind,
        "gpu_count": compute.count,
        "gpu_name": compute.name,
        "gpu_driver": compute.driver,
    }
