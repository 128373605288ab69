"""The GPU probe: what NVML (nvidia-ml-py), else nvidia-smi, sees on this machine.

Used by `train` (the compute tags of the run), `doctor`, and generated projects choosing a device.
NVML is the driver's own library: no process to start, no CSV to parse. nvidia-smi stays the
fallback for an install without the bindings (the `ci` extra has them) and for a driver whose
library cannot be loaded.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from .. import names

NVIDIA_SMI = "nvidia-smi"


@dataclass(frozen=True)
class Compute:
    count: int
    name: str
    driver: str

    @property
    def kind(self) -> str:
        return "gpu" if self.count else "cpu"

    def tags(self) -> dict[str, str]:
        return {
            names.TAG_COMPUTE: self.kind,
            names.TAG_GPU_COUNT: str(self.count),
            names.TAG_GPU_NAME: self.name,
            names.TAG_GPU_DRIVER: self.driver,
        }


CPU = Compute(0, "cpu", "none")


def detect(nvidia_smi: str = NVIDIA_SMI, timeout_s: float = 30) -> Compute:
    """GPUs as NVML sees them, else as nvidia-smi does; CPU when neither answers or finds one."""
    found = from_nvml()
    return found if found is not None else from_nvidia_smi(nvidia_smi, timeout_s)


def from_nvml() -> Compute | None:
    """GPUs through NVML; None when the bindings or the driver's library cannot be loaded."""
    try:
        import pynvml  # nvidia-ml-py; imported here so --help never loads it
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None  # no libnvidia-ml (no driver here): nvidia-smi cannot answer either, but ask
    try:
        count = pynvml.nvmlDeviceGetCount()
        gpu_names = [
            _text(pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i)))
            for i in range(count)
        ]
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
    except pynvml.NVMLError:
        return None
    finally:
        pynvml.nvmlShutdown()
    return _compute(gpu_names, driver)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value  # bytes before nvidia-ml-py 11


def from_nvidia_smi(nvidia_smi: str = NVIDIA_SMI, timeout_s: float = 30) -> Compute:
    """GPUs as nvidia-smi sees them; CPU when the tool is missing, fails or finds none."""
    exe = shutil.which(nvidia_smi)
    if not exe:
        return CPU
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return CPU
    return parse(out)


def parse(csv_rows: str) -> Compute:
    """`name, driver` rows of nvidia-smi's CSV output (one per GPU) as one Compute."""
    rows = [[p.strip() for p in line.split(",")] for line in csv_rows.splitlines() if line.strip()]
    driver = rows[0][1] if rows and len(rows[0]) > 1 else ""
    return _compute([r[0] for r in rows], driver)


def _compute(gpu_names: list[str], driver: str) -> Compute:
    if not gpu_names:
        return CPU
    return Compute(len(gpu_names), " + ".join(sorted(set(gpu_names))), driver)


def available(nvidia_smi: str = NVIDIA_SMI) -> bool:
    """True when at least one GPU is visible."""
    return detect(nvidia_smi).count > 0
