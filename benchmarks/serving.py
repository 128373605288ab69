"""Throughput and p99 latency of the platform's scoring server against three peers.

Peers, all serving the same model (StandardScaler + LogisticRegression on breast cancer, saved
by mlflow.sklearn) from one process on the same machine, with the same load generator (wrk,
closed loop: a fixed number of keep-alive connections for a fixed time, on 127.0.0.1):
- `mlflow models serve --env-manager local` (one uvicorn worker, its default);
- MLServer with its MLflow runtime (Seldon's server, the KServe V2 stack), on its
  MLflow-compatible `/invocations`, from its own virtual environment (made on first use under
  benchmarks/.venvs/mlserver: mlserver and mlserver-mlflow from the package index);
- the floor: a minimal ASGI app that calls the same model's `predict` in-process
  (benchmarks/_floor_app.py): what any server on uvicorn must at least spend.
- ours again with the prediction store on (`logged`: every row, its id, inputs and output to
  SQLite, or to `--store URL` such as the suite's PostgreSQL, through the server's queue and
  writer thread; class probabilities too with `--store-scores`): the cost of logging is
  logged/ours, measured in the same rounds (goal: at most 5 % fewer requests per second), and
  as CPU seconds per request from each server's own process metrics (less disturbed by other
  load on a shared machine than requests per second).
Servers are pinned to CPU 0 and wrk to CPU 1 when there are two CPUs, and the servers take turns,
round after round, so background load hits all alike; the figures are medians over the rounds.
The logging ratio is the median of each round's logged/ours pair (run seconds apart), with a
distribution-free 90 % interval for that median and a verdict: met, NOT met, or undecided
when the interval straddles the goal (this shared host swings ±10 % between rounds: ask for
more rounds). Beside it, the same pairing in requests per CPU-second of the server process
(/proc, each run's CPU including the writer's last rows): the host's other load counts in
neither server's CPU, so its interval is narrower; information, the verdict stays on throughput.
`--spread` leaves the servers free on every CPU (wrk stays on CPU 1), as a host with cores to
spare runs them: the store's writer thread then runs beside the request thread, and what their
contention for the GIL costs shows, where one pinned core only shows the CPU the writer spends.

    python benchmarks/serving.py [--rounds 3] [--duration 10] [--connections 4] [--no-mlserver]
                                 [--logging-only] [--store URL] [--store-scores] [--spread]

Needs wrk (apt-get install wrk). Exits 1 unless, for single rows and for batches of 100:
throughput >= 3x MLflow and p99 <= 0.5x MLflow's, >= 10x MLServer, >= 0.9x the floor, and
>= 0.95x itself with logging on (`--logging-only`: ours and logged alone, that goal alone).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import _project  # noqa: F401 - first: the repository's import paths
from support.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
MLSERVER_VENV = ROOT / "benchmarks" / ".venvs" / "mlserver"
GOALS = {"mlflow": 3.0, "mlserver": 10.0, "floor": 0.9}  # our throughput / theirs, at least
LOGGING_GOAL = 0.95  # logged / ours: the prediction store costs at most 5 % of throughput
CONFIDENCE = 0.9  # of the interval printed around the logging ratio
# After each run of ours and logged: the store's writer gathers rows for 0.3 s (predlog.py's
# linger) before it writes them, and that CPU belongs to the run that sent them.
WRITER_DRAIN_S = 0.6

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("{body}"):read("*a")
"""
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def save_model(path: Path) -> Path:
    """The benchmark model, logged as the project's train step logs it (skops, signature)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=1000))])
    model.fit(X, y)
    return save_pipeline(model, path, X.head(5))


def save_pipeline(model: Any, path: Path, signature_rows: Any) -> Path:
    """Save as the project's train step does (skops, signature, input example of 5 rows).

    `signature_rows`: the rows the input signature is inferred from (all of them, for a model
    whose optional columns only some rows show).
    """
    from importlib.metadata import version

    import mlflow
    from mlflow.models import infer_signature

    example = signature_rows.head(5)
    mlflow.sklearn.save_model(
        model,
        str(path),
        serialization_format="skops",
        skops_trusted_types=["numpy.dtype"],
        signature=infer_signature(signature_rows, model.predict(example)),
        input_example=example,
        # pinned as train pins them (MLflow's inference, a subprocess loading the model, skipped)
        pip_requirements=[f"{d}=={version(d)}" for d in ("scikit-learn", "skops")],
    )
    return path


def mlserver_python() -> str:
    """MLServer's own interpreter: a separate venv, so its pins never touch this environment."""
    python = MLSERVER_VENV / "bin" / "python"
    if not python.exists():
        from importlib.metadata import version

        print(f"creating {MLSERVER_VENV} (mlserver, mlserver-mlflow; once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(MLSERVER_VENV)], check=True)
        pins = [f"{d}=={version(d)}" for d in ("scikit-learn", "skops", "mlflow")]
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "mlserver", "mlserver-mlflow", *pins],
            check=True,
        )
    return str(python)


def mlserver_command(work: Path, model: Path, port: int) -> list[str]:
    """`mlserver start` on a folder holding its settings and the model's settings."""
    folder = work / "mlserver"
    folder.mkdir(exist_ok=True)
    settings = {
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 0,
        "debug": False,
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    model_settings = {
        "name": "cancer",
        "implementation": "mlserver_mlflow.MLflowRuntime",
        "parameters": {"uri": str(model)},
    }
    (folder / "model-settings.json").write_text(json.dumps(model_settings))
    return [mlserver_python(), "-m", "mlserver.cli.main", "start", str(folder)]


def pinned(cpu: int, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *cmd] if (os.cpu_count() or 1) >= 2 else cmd


def start(
    cmd: list[str],
    port: int,
    health: str,
    env: dict[str, str],
    log: Path | None = None,
    pin: bool = True,
) -> subprocess.Popen:
    """The server, healthy (on CPU 0 when `pin`); its stderr into `log` when given (the logged
    server's: its store warnings say why rows were dropped)."""
    proc = subprocess.Popen(
        pinned(0, cmd) if pin else cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if log is None else log.open("ab"),
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


def bodies_and_scripts(work: Path) -> tuple[dict[str, bytes], dict[str, Path]]:
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer(as_frame=True).data
    bodies, scripts = {}, {}
    for name, rows in (("1 row", X.head(1)), ("100 rows", X.head(100))):
        body = json.dumps(
            {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}}
        )
        (work / f"{len(rows)}.json").write_text(body)
        script = work / f"{len(rows)}.lua"
        script.write_text(LUA.format(body=work / f"{len(rows)}.json"))
        bodies[name], scripts[name] = body.encode(), script
    return bodies, scripts


def servers(
    work: Path,
    model: Path,
    with_mlserver: bool,
    logging_only: bool = False,
    store_url: str | None = None,
    store_scores: bool = False,
) -> dict[str, tuple[list[str], int, str]]:
    """name -> (command, port, health path)."""
    ports = {name: free_port() for name in ("ours", "logged", "floor", "mlflow", "mlserver")}
    python = sys.executable
    serve = [python, "-m", "mlops_toolkit.serving", "--model-dir", str(model), "--port"]
    url = store_url or f"sqlite:///{work / 'store' / 'predictions.sqlite3'}"
    store = [f"MLOPS_PREDICTION_STORE={url}", f"PREDICTION_STORE_SCORES={int(store_scores)}"]
    logged = {
        "ours": ([*serve, str(ports["ours"])], ports["ours"], "/health"),
        "logged": (["env", *store, *serve, str(ports["logged"])], ports["logged"], "/health"),
    }
    if logging_only:
        return logged
    chosen = {
        "ours": (
            [
                python,
                "-m",
                "mlops_toolkit.serving",
                "--model-dir",
                str(model),
                "--port",
                str(ports["ours"]),
            ],
            ports["ours"],
            "/health",
        ),
        "logged": logged["logged"],
        "floor": (
            [python, str(ROOT / "benchmarks" / "_floor_app.py"), str(model), str(ports["floor"])],
            ports["floor"],
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
                str(ports["mlflow"]),
                "--workers",
                "1",
            ],
            ports["mlflow"],
            "/ping",
        ),
    }
    if with_mlserver:
        command = mlserver_command(work, model, ports["mlserver"])
        chosen["mlserver"] = (command, ports["mlserver"], "/v2/health/ready")
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=4, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--no-mlserver", action="store_true", help="leave MLServer out")
    parser.add_argument(
        "--logging-only", action="store_true", help="only ours with the store off and on"
    )
    parser.add_argument("--store", help="the logged server's store URL (default: a SQLite file)")
    parser.add_argument(
        "--store-scores", action="store_true", help="the logged server stores probabilities too"
    )
    parser.add_argument(
        "--spread", action="store_true", help="servers free on every CPU, not pinned to CPU 0"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")

    env = {
        **os.environ,
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp:
        work = Path(tmp)
        model = save_model(work / "model")
        bodies, scripts = bodies_and_scripts(work)
        from mlops_toolkit.core.redact import redact  # a store URL may hold a password

        chosen = servers(
            work, model, not args.no_mlserver, args.logging_only, args.store, args.store_scores
        )
        print(f"logged server's store: {redact(args.store or 'sqlite (a file in the run folder)')}")
        results: dict[str, dict[str, list[dict[str, float]]]] = {
            n: {s: [] for s in chosen} for n in scripts
        }
        # Every server runs at once, idle but the one under load, and they take turns every few
        # seconds: a change in background load then hits all of them alike, and the ratios hold.
        procs = {}
        try:
            for server, (cmd, port, health) in chosen.items():
                log = work / f"{server}.log" if server == "logged" else None
                procs[server] = start(cmd, port, health, env, log, pin=not args.spread)
            answers = {
                server: {n: predict(port, b) for n, b in bodies.items()}
                for server, (_, port, _) in chosen.items()
            }
            for server, answer in answers.items():
                if answer != answers["mlflow" if "mlflow" in answers else "ours"]:
                    raise SystemExit(f"{server} answers differently from mlflow models serve")
            for script in scripts.values():
                for _, port, _ in chosen.values():
                    wrk(port, script, 2, args.connections)  # warm up
            for _ in range(args.rounds):
                for name, script in scripts.items():
                    for server, (_, port, _) in chosen.items():
                        before = process_cpu(procs[server].pid)
                        run = wrk(port, script, args.duration, args.connections)
                        if server in ("ours", "logged"):
                            time.sleep(WRITER_DRAIN_S)  # the writer's last rows, this round's
                        run["cpu_ms"] = (
                            (process_cpu(procs[server].pid) - before)
                            / (run["rps"] * args.duration)
                            * 1e3
                        )
                        results[name][server].append(run)
            store_counts(chosen["logged"][1], work / "logged.log")
            cpu = {name: cpu_per_request(chosen[name][1]) for name in ("ours", "logged")}
            print(
                f"CPU per request (all payloads, all rounds): ours {cpu['ours'] * 1e3:.3f} ms, "
                f"logged {cpu['logged'] * 1e3:.3f} ms: "
                f"logged/ours x{cpu['logged'] / cpu['ours']:.3f}"
                " (less sensitive to other load on the machine than requests per second)"
            )
        finally:
            for proc in procs.values():
                stop(proc)
    return report(results, args)


def process_cpu(pid: int) -> float:
    """CPU seconds of the process so far (its threads, the store's writer among them)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(port: int) -> float:
    """The server process's CPU seconds (its own /metrics) per scoring request it answered."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    cpu = float(re.search(r"^process_cpu_seconds_total (\S+)$", text, re.M)[1])
    requests = sum(
        float(v) for v in re.findall(r"^model_serving_requests_total\{.*\} (\S+)$", text, re.M)
    )
    return cpu / requests


def store_counts(port: int, log: Path) -> None:
    """Rows the logged server wrote and dropped: a ratio bought by dropping rows is no ratio."""
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        counts = {
            what: sum(
                float(v)
                for v in re.findall(
                    rf"^model_serving_prediction_store_{what}(?:_total)?{{.*}} (\S+)$", text, re.M
                )
            )
            for what in ("written", "dropped", "queue_rows")
        }
        if counts["queue_rows"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    print(
        f"logged server: {counts['written']:.0f} rows written to the store, "
        f"{counts['dropped']:.0f} dropped, {counts['queue_rows']:.0f} still queued"
    )
    if counts["dropped"]:
        warnings = [line for line in log.read_text().splitlines() if "prediction store" in line]
        print("the logged server's store warnings (last 10):", *warnings[-10:], sep="\n  ")
        raise SystemExit("the logged server dropped rows: its throughput is not comparable")


def median_interval(values: list[float], confidence: float = 0.9) -> tuple[float, float]:
    """A distribution-free interval for the median: the order statistics x(j) and x(n+1-j)
    with the largest j that still covers the median with `confidence` (binomial, p = 1/2).
    Too few values for that confidence: the whole range."""
    ordered = sorted(values)
    n, j = len(ordered), 1
    while j < n // 2 and 1 - 2 * _below(j + 1, n) >= confidence:
        j += 1
    return ordered[j - 1], ordered[n - j]


def _below(k: int, n: int) -> float:
    """P(Binomial(n, 1/2) < k)."""
    return sum(math.comb(n, i) for i in range(k)) / 2**n


def report(results: dict[str, dict[str, list[dict[str, float]]]], args: argparse.Namespace) -> int:
    print(
        f"{args.rounds} rounds x {args.duration} s, {args.connections} connections, wrk on "
        f"127.0.0.1; servers {'on every CPU' if args.spread else 'pinned to CPU 0'}; medians"
    )
    print(f"{'payload':<9} {'server':<9} {'req/s':>9} {'p99 ms':>8}")
    ok, summary = True, {}
    for name, by_server in results.items():
        med = {
            s: {k: statistics.median(r[k] for r in runs) for k in ("rps", "p99_ms")}
            for s, runs in by_server.items()
        }
        for server, m in med.items():
            print(f"{name:<9} {server:<9} {m['rps']:>9.0f} {m['p99_ms']:>8.2f}")
        ratios = {peer: med["ours"]["rps"] / med[peer]["rps"] for peer in med if peer in GOALS}
        for peer, ratio in ratios.items():
            print(f"{name:<9} ours/{peer:<9} throughput x{ratio:.2f} (goal >= {GOALS[peer]})")
            ok = ok and ratio >= GOALS[peer]
        # Each round's logged run follows its ours run within seconds: their ratio cancels the
        # host's drift between rounds, which the two servers' medians do not.
        paired = [
            b["rps"] / a["rps"] for a, b in zip(by_server["ours"], by_server["logged"], strict=True)
        ]
        logging = statistics.median(paired)
        low, high = median_interval(paired, CONFIDENCE)
        # The same question in CPU: requests per CPU-second, logged/ours, paired by round. The
        # host's other load (steal time) counts in neither, so the rounds agree better; on a
        # saturated core it is the throughput ratio, or lower where the writer fills idle time.
        by_cpu = [
            a["cpu_ms"] / b["cpu_ms"]
            for a, b in zip(by_server["ours"], by_server["logged"], strict=True)
        ]
        cpu_low, cpu_high = median_interval(by_cpu, CONFIDENCE)
        print(
            f"{name:<9} logged/ours   requests per CPU-second x{statistics.median(by_cpu):.3f}, "
            f"{CONFIDENCE:.0%} interval [{cpu_low:.3f}, {cpu_high:.3f}] (ours "
            f"{statistics.median(a['cpu_ms'] for a in by_server['ours']):.3f} ms a request)"
        )
        verdict = (
            "met" if low >= LOGGING_GOAL else "NOT met" if high < LOGGING_GOAL else "undecided"
        )
        print(
            f"{name:<9} logged/ours   throughput x{logging:.3f}, median of {len(paired)} paired "
            f"rounds, {CONFIDENCE:.0%} interval [{low:.3f}, {high:.3f}] (goal >= "
            f"{LOGGING_GOAL}: {verdict})"
        )
        ok = ok and logging >= LOGGING_GOAL
        summary[name] = {
            "throughput_ratio": {peer: round(r, 2) for peer, r in ratios.items()},
            "logging_ratio": round(logging, 3),
            "logging_interval": [round(low, 3), round(high, 3)],
            "logging_verdict": verdict,
            **med,
        }
        if "mlflow" in med:
            latency = med["ours"]["p99_ms"] / med["mlflow"]["p99_ms"]
            print(f"{name:<9} ours/mlflow   p99 x{latency:.3f} (goal <= 0.5)")
            ok = ok and latency <= 0.5
            summary[name]["p99_ratio_mlflow"] = round(latency, 3)
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
