"""Benchmark: init-data on a 1,000,000-row mixed-type CSV through a real generated project.

Generates a project from this template (cookiecutter), writes a CSV of N rows with every role
init-data infers (an ID, integers, floats with missing values, categories, a yes/no column, a
date, a binary label), and measures in one run, each in its own process:
  read_csv  : pandas reading the same CSV alone (the floor: init-data reads the data once)
  init-data : the project's own `init-data` (roles, params, the derived suite, gate, dvc.yaml)
Reports seconds, rows per second and peak memory (maximum resident set) of each, and the ratios.

    python benchmarks/init_data.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Runs a command in a child and prints its wall time and peak RSS (KiB on Linux) as JSON.
MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
elapsed = time.perf_counter() - start
if done.returncode:
    sys.exit(done.stderr[-2000:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_kib": peak}))
"""


def generate(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(REPO), "--no-input", "-o", str(out)],
        check=True,
        capture_output=True,
    )
    return next(p for p in out.iterdir() if (p / "pyproject.toml").is_file())


def dataset(path: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    income = rng.normal(50_000, 12_000, rows).round(2)
    income[rng.random(rows) < 0.03] = np.nan
    frame = pd.DataFrame(
        {
            "customer_id": np.char.add("C", np.arange(rows).astype(str)),
            "age": rng.integers(18, 90, rows),
            "income": income,
            "plan": rng.choice(["basic", "plus", "pro", "team"], rows),
            "region": rng.choice([f"r{i}" for i in range(30)], rows),
            "member": rng.choice(["yes", "no"], rows),
            "signed_up": (np.datetime64("2015-01-01") + rng.integers(0, 3650, rows)).astype(str),
            "target": rng.choice([0, 1], rows, p=[0.9, 0.1]),
        }
    )
    frame.to_csv(path, index=False)


def measure(cmd: list[str], cwd: Path, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *cmd], cwd=cwd, env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(f"{cmd[:4]} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "init_data.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = generate(Path(tmp))
        package = next(p.name for p in (project / "src").iterdir() if (p / "cli.py").is_file())
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(project / "src"), str(REPO / "actions" / "src")]),
        }
        data = project / "data" / "external" / "big.csv"
        dataset(data, args.rows)
        size = data.stat().st_size
        read = measure(
            [sys.executable, "-c", "import pandas, sys; pandas.read_csv(sys.argv[1])", str(data)],
            project,
            env,
        )
        init = measure(
            [
                sys.executable,
                "-m",
                package,
                "init-data",
                "--source",
                "data/external/big.csv",
                "--target",
                "target",
            ],
            project,
            env,
        )
        params = (project / "params.yaml").read_text()
        suite = json.loads((project / "expectations" / "dataset.json").read_text())
    mib = 1024
    result = {
        "rows": args.rows,
        "size_mib": round(size / mib / mib, 1),
        "expectations": len(suite["expectations"]),
        "excluded_found": "customer_id" in params.split("excluded:")[1].splitlines()[0],
        "read_csv_s": round(read["seconds"], 2),
        "init_data_s": round(init["seconds"], 2),
        "init_data_rows_per_s": round(args.rows / init["seconds"]),
        "read_csv_peak_mib": round(read["peak_kib"] / mib),
        "init_data_peak_mib": round(init["peak_kib"] / mib),
        "ratio_time_init_data_to_read_csv": round(init["seconds"] / read["seconds"], 2),
        "ratio_peak_init_data_to_read_csv": round(init["peak_kib"] / read["peak_kib"], 2),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
