"""Benchmark: validate-data on a 1,000,000-row dataset through a real generated project.

Generates a project from this template (cookiecutter), writes a dataset of N rows drawn from
its sample data (breast cancer, with a little noise), and times in one run:
  read_csv : pandas reading the CSV (the floor: any validation reads the data once)
  project  : the project's own `validate-data` command
  toolkit  : `mlops-toolkit validate-data` around that command (what the action runs)
Reports rows per second and the ratios to the floor.

    python benchmarks/validate_data.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def generate(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(REPO), "--no-input", "-o", str(out)],
        check=True,
        capture_output=True,
    )
    return next(p for p in out.iterdir() if (p / "pyproject.toml").is_file())


def dataset(project: Path, package: str, path: Path, rows: int, env: dict) -> None:
    """The project's own sample data (its `prepare-data`), resampled to `rows` rows."""
    import pandas as pd

    subprocess.run(
        [sys.executable, "-m", package, "prepare-data"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    frame = pd.read_csv(project / "data" / "raw" / "dataset.csv")
    frame.sample(rows, replace=True, random_state=0).to_csv(path, index=False)


def timed(cmd: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 2):
        raise SystemExit(f"{cmd[:4]} failed: {result.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks" / "results" / "validate_data.json")
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = generate(Path(tmp))
        package = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").is_file())
        data = project / "big.csv"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(project / "src"), str(REPO / "actions" / "src")]),
        }
        dataset(project, package, data, args.rows, env)
        project_cmd = f"{sys.executable} -m {package} validate-data --data big.csv"
        read = timed(
            [sys.executable, "-c", "import pandas, sys; pandas.read_csv(sys.argv[1])", str(data)],
            project,
            env,
        )
        own = timed(project_cmd.split(), project, env)
        toolkit = timed(
            [
                sys.executable,
                "-m",
                "mlops_toolkit.cli",
                "validate-data",
                "--command",
                project_cmd,
                "--working-directory",
                str(project),
            ],
            project,
            env,
        )
        report = json.loads((project / "reports" / "validation.json").read_text())
    result = {
        "rows": args.rows,
        "expectations": report.get("evaluated"),
        "success": report.get("success"),
        "read_csv_s": round(read, 2),
        "project_s": round(own, 2),
        "toolkit_s": round(toolkit, 2),
        "rows_per_s_toolkit": round(args.rows / toolkit),
        "ratio_project_to_read_csv": round(own / read, 2),
        "ratio_toolkit_to_project": round(toolkit / own, 3),
    }
    for key, value in result.items():
        print(f"{key:28} {value}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
