"""Throughput and p99 latency: the generated scoring server vs `mlflow models serve`.

Same model (the project's default: StandardScaler + LogisticRegression on breast cancer, saved
by mlflow.sklearn), same machine, same load generator (wrk, closed loop: a fixed number of
keep-alive connections for a fixed time, on 127.0.0.1), same concurrency, one server process
each (MLflow's default is one uvicorn worker). Servers are pinned to CPU 0 and wrk to CPU 1
when there are two CPUs, and the two servers take turns, round after round, so background
load hits both alike; the figures are the medians over the rounds.

    python benchmarks/serving.py [--rounds 3] [--duration 10] [--connections 4]

Needs wrk (apt-get install wrk) and mlflow; exits 1 unless throughput >= 3x and p99 <= 0.5x
for both single rows and batches of 100.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.serving.conftest import bake, save_model  # noqa: E402

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("{body}"):read("*a")
"""
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pinned(cpu: int, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *cmd] if (os.cpu_count() or 1) >= 2 else cmd


def start(cmd: list[str], port: int, health: str, env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        pinned(0, cmd),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{health}", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise SystemExit(f"{cmd[:3]} exited with {proc.returncode}")
    raise SystemExit(f"{cmd[:3]} not healthy after 120 s")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, 15)
    proc.wait(30)


def predict(port: int, body: bytes) -> list:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["predictions"]


def wrk(port: int, script: Path, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        pinned(
            1,
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(script),
                f"http://127.0.0.1:{port}/invocations",
            ],
        ),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"failed requests during the run:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M).groups()
    return {"rps": rps, "p99_ms": float(value) * UNITS[unit] * 1e3}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")

    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp:
        work = Path(tmp)
        project = bake(work / "project")
        model = save_model(work / "model")
        package = next((project / "src").iterdir()).name
        import pandas as pd
        from sklearn.datasets import load_breast_cancer

        X = load_breast_cancer(as_frame=True).data
        scripts = {}
        bodies = {}
        for name, rows in (("1 row", X.head(1)), ("100 rows", X.head(100))):
            body = json.dumps(
                {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}}
            )
            (work / f"{len(rows)}.json").write_text(body)
            script = work / f"{len(rows)}.lua"
            script.write_text(LUA.format(body=work / f"{len(rows)}.json"))
            scripts[name], bodies[name] = script, body.encode()
        del pd

        env = {
            **os.environ,
            "PYTHONPATH": str(project / "src"),
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }
        ours_port, mlflow_port = free_port(), free_port()
        servers = {
            "ours": (
                [
                    "python",
                    "-m",
                    f"{package}.serving",
                    "--model-dir",
                    str(model),
                    "--port",
                    str(ours_port),
                ],
                ours_port,
                "/health",
            ),
            "mlflow": (
                [
                    "mlflow",
                    "models",
                    "serve",
                    "-m",
                    str(model),
                    "--env-manager",
                    "local",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(mlflow_port),
                    "--workers",
                    "1",
                ],
                mlflow_port,
                "/ping",
            ),
        }
        results: dict[str, dict[str, list[dict[str, float]]]] = {
            n: {s: [] for s in servers} for n in scripts
        }
        for round_ in range(args.rounds):
            for server, (cmd, port, health) in servers.items():
                proc = start(cmd, port, health, env)
                try:
                    if round_ == 0:
                        answers = {n: predict(port, b) for n, b in bodies.items()}
                        results.setdefault("_answers", {})[server] = answers  # type: ignore
                    for name, script in scripts.items():
                        wrk(port, script, 2, args.connections)  # warm up
                        results[name][server].append(
                            wrk(port, script, args.duration, args.connections)
                        )
                finally:
                    stop(proc)
        answers = results.pop("_answers")  # type: ignore[arg-type]
        if answers["ours"] != answers["mlflow"]:
            raise SystemExit("the two servers answer differently")

    ok = True
    print(
        f"{args.rounds} rounds x {args.duration} s, {args.connections} connections, wrk on "
        "127.0.0.1; medians"
    )
    print(f"{'payload':<9} {'server':<7} {'req/s':>9} {'p99 ms':>8}")
    summary = {}
    for name, by_server in results.items():
        med = {
            s: {k: statistics.median(r[k] for r in runs) for k in ("rps", "p99_ms")}
            for s, runs in by_server.items()
        }
        for server, m in med.items():
            print(f"{name:<9} {server:<7} {m['rps']:>9.0f} {m['p99_ms']:>8.2f}")
        throughput = med["ours"]["rps"] / med["mlflow"]["rps"]
        latency = med["ours"]["p99_ms"] / med["mlflow"]["p99_ms"]
        print(
            f"{name:<9} ratio   throughput x{throughput:.2f} (goal >= 3), "
            f"p99 x{latency:.3f} (goal <= 0.5)"
        )
        summary[name] = {
            "throughput_ratio": round(throughput, 2),
            "p99_ratio": round(latency, 3),
            **{s: med[s] for s in med},
        }
        ok = ok and throughput >= 3 and latency <= 0.5
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
