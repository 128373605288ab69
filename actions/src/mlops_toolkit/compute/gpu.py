"""The GPU probe: what nvidia-smi sees on this machine (standard library only).

Used by `train` (the compute tags of the run) and by generated projects choosing a device.
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
    if not rows:
        return CPU
    gpu_names = sorted({r[0] for r in rows})
    return Compute(len(rows), " + ".join(gpu_names), rows[0][1] if len(rows[0]) > 1 else "")


def available(nvidia_smi: str = NVIDIA_SMI) -> bool:
    """True when at least one GPU is visible."""
    return detect(nvidia_smi).count > 0
