"""The production loop on the docker scenario (issue 18), after its releases and rollback:

production's container (deployed by rollback.yml with the store and token secrets) scores
traffic over HTTP and logs every row to the scenario's PostgreSQL store; labels come back
(POST /feedback with the token, and the `labels` command); `monitor` measures live quality with
the registry's holdout figure and pushes it to a real Pushgateway; a real Prometheus scrapes it
(and production's /metrics) and judges it by the project's alerts.yml; a real Alertmanager,
configured as the project's alertmanager.yml, posts the firing alert to `mlops-toolkit relay`,
which sends the repository_dispatch to the GitHub stand-in. Nothing waits a fixed time: every
wait is on a condition (support.servers.wait_until).
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlops_toolkit import metrics as registry
from mlops_toolkit import names
from support import alerting
from support.alerting import REPO, Stack
from support.servers import wait_until

from .scenario import OWNER_REPO, TOKEN, Scenario

FEEDBACK_TOKEN = "e2e-feedback-token-5d1f"
RELAY_TOKEN = "e2e-relay-token-8c2a"
F1 = registry.default(registry.CLASSIFICATION)  # the project's primary metric (gate.yaml)
ROWS_PER_REQUEST = 25
AGREEING, WRONG = 100, 300  # the wrong labels outnumber the right ones: F1 far below the gate
GROUP = "model-quality"  # alerts.yml's group of the live-quality rules


@dataclass
class Scored:
    ids: list[str]
    predictions: list[int]


def _features() -> tuple[list[str], list[list[float]]]:
    """The sample's rows with the column names the project trained on (dvcdata's)."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [re.sub(r"[^0-9a-zA-Z]+", "_", str(c)).strip("_").lower() for c in frame]
    features = frame.drop(columns=["target"])
    return list(features.columns), features.to_numpy().tolist()


def score(port: int, n: int, offset: int) -> Scored:
    """n rows through production's HTTP API, in requests of ROWS_PER_REQUEST rows: each row
    comes back with its prediction id, the batch id in the header."""
    columns, data = _features()
    rows = [data[(offset + i) % len(data)] for i in range(n)]
    scored = Scored([], [])
    for start in range(0, n, ROWS_PER_REQUEST):
        chunk = rows[start : start + ROWS_PER_REQUEST]
        body = json.dumps({"dataframe_split": {"columns": columns, "data": chunk}}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            body,
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            batch = answer.headers["X-Prediction-Batch"]
            out = json.loads(answer.read())
        assert batch, "no X-Prediction-Batch: the server records no predictions"
        assert len(out["prediction_ids"]) == len(out["predictions"]) == len(chunk), out
        assert all(i.startswith(batch) for i in out["prediction_ids"]), (batch, out)
        scored.ids += out["prediction_ids"]
        scored.predictions += [int(p) for p in out["predictions"]]
    assert len(set(scored.ids)) == n
    return scored


def stored(s: Scenario, version: str, ids: list[str]) -> bool:
    """Whether the store holds every id, as production's prediction of ``version``."""
    from mlops_toolkit.monitoring.store import open_store

    with open_store(s.store) as store:
        rows = store.read_joined(s.model, version, environment="production")
    return set(ids) <= {r.prediction.prediction_id for r in rows}


def feedback(port: int, labels: list[dict], token: str = FEEDBACK_TOKEN) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/feedback",
        json.dumps({"labels": labels}).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {"error": exc.read().decode(errors="replace")}


def toolkit(s: Scenario, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`mlops-toolkit ARGS` of this checkout against the scenario's store and tracking server."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "actions" / "src"),
        "MLFLOW_TRACKING_URI": s.server.uri,
        names.ENV_PREDICTION_STORE: s.store,
    }
    return subprocess.run(
        [sys.executable, "-m", "mlops_toolkit.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def labels_file(path: Path, ids: list[str], labels: list[int]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["prediction_id", "label"])
        writer.writerows(zip(ids, labels, strict=True))
    return path


def monitor(s: Scenario, stack: Stack, tmp: Path) -> str:
    """The scheduled job's command: every version's live quality over the last hour, pushed."""
    result = toolkit(
        s,
        "monitor",
        "--model-name", s.model,
        "--window", "1h",
        "--min-labels", "50",
        "--gate-config", str(s.project / names.GATE_CONFIG),
        "--reports", str(tmp / "reports"),
        "--pushgateway", stack.urls["pushgateway"],
        cwd=tmp,
    )  # fmt: skip
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def live_f1(stack: Stack, model: str, version: str) -> float | None:
    promql = (
        f'model_quality_value{{model_name="{model}",model_version="{version}",'
        f'environment="production",metric="{F1}",window="1h"}}'
    )
    found = stack.query(promql)
    return float(found[0]["value"][1]) if found else None


def evaluated_since(stack: Stack, moment: float, rounds: int = 2) -> bool:
    """Prometheus evaluated the quality rules ``rounds`` times (1 s apart) after ``moment``:
    with `for: 1s`, an alert the figures make due is pending at the first, firing at the
    second."""
    return stack.last_evaluation(GROUP) >= moment + rounds - 1


@contextmanager
def steps() -> Iterator:
    """`with steps() as step:` ... `step("name")` prints each step's duration as it ends."""
    began = last = time.monotonic()

    def step(name: str) -> None:
        nonlocal last
        now = time.monotonic()
        print(f"loop step {name}: {now - last:.1f} s")
        last = now

    yield step
    print(f"loop total: {time.monotonic() - began:.1f} s")


def close_the_loop(s: Scenario, tmp: Path) -> dict:
    """Steps 1-4 of the loop; returns the repository_dispatch the relay sent (step 5's event)."""
    with (
        steps() as step,
        alerting.stack(
            s.project / "monitoring",
            tmp / "alerting",
            github_url=s.api.url,
            github_token=TOKEN,
            repository=OWNER_REPO,
            relay_token=RELAY_TOKEN,
            serving=f"127.0.0.1:{s.ports['production']}",
        ) as stack,
    ):
        dispatch = _loop(s, stack, tmp, step)
        relay_log = stack.logs["relay"].read_text()
        for secret in (RELAY_TOKEN, TOKEN):
            assert secret not in relay_log
    return dispatch


def _loop(s: Scenario, stack: Stack, tmp: Path, step) -> dict:
    port = s.ports["production"]
    # 1. Production serves the version its alias names; Prometheus scrapes it.
    version = s.alias("production")
    assert version and s.serving("production") == version
    up = f'up{{job="model-serving",instance="127.0.0.1:{port}"}}'
    wait_until("Prometheus scraping production", lambda: stack.query(f"{up} == 1"))
    step("1 production serves, scraped")

    # 2. Traffic, each row with its id, logged to the store by the container's writer thread.
    right = score(port, AGREEING, offset=0)
    wait_until("the predictions in the store", lambda: stored(s, version, right.ids))
    step(f"2 {AGREEING} rows scored and stored")

    # 3. Labels that agree with the model: half over HTTP (a wrong token is refused and writes
    #    nothing), half from the labelling job's file.
    half = AGREEING // 2
    first = [
        {"prediction_id": i, "label": p} for i, p in zip(right.ids, right.predictions, strict=True)
    ]
    assert feedback(port, first[:half], token="not-the-token")[0] == 401
    status, counts = feedback(port, first[:half])
    assert (status, counts["loaded"]) == (200, half), counts
    path = labels_file(tmp / "labels.csv", right.ids[half:], right.predictions[half:])
    result = toolkit(s, "labels", "--file", str(path), cwd=tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{AGREEING - half} loaded" in result.stdout, result.stdout
    said = monitor(s, stack, tmp)
    assert f"holdout figures: production version {version}" in said
    assert "BELOW THE GATE" not in said
    value = wait_until("the live F1 in Prometheus", lambda: live_f1(stack, s.model, version))
    assert value == 1.0, value
    seen = time.time()
    wait_until("two rule evaluations", lambda: evaluated_since(stack, seen))
    assert stack.alerts(state="firing") == [], stack.alerts()
    assert stack.alerts(names.ALERT_PERFORMANCE) == []
    assert s.api.dispatches == [], s.api.dispatches
    step("3 right labels: live F1 1.0 in Prometheus, no alert")

    # 4. The world changes: new traffic whose labels the model gets wrong.
    wrong = score(port, WRONG, offset=AGREEING)
    wait_until("the new predictions in the store", lambda: stored(s, version, wrong.ids))
    flipped = [
        {"prediction_id": i, "label": 1 - p}
        for i, p in zip(wrong.ids, wrong.predictions, strict=True)
    ]
    status, counts = feedback(port, flipped)
    assert (status, counts["loaded"]) == (200, WRONG), counts
    said = monitor(s, stack, tmp)
    assert f"BELOW THE GATE: {F1}" in said
    dispatch = wait_until("the relay's repository_dispatch", lambda: s.api.dispatches, 120)[0]
    assert (dispatch["repo"], dispatch["event_type"]) == (OWNER_REPO, names.EVENT_RETRAIN)
    payload = dispatch["client_payload"]
    assert payload["alert"] == names.ALERT_PERFORMANCE
    assert (payload["model_name"], payload["model_version"]) == (s.model, version)
    assert payload["environment"] == "production"
    firing = stack.alerts(names.ALERT_PERFORMANCE, state="firing")
    assert {(a["labels"]["model_version"], a["labels"]["environment"]) for a in firing} == {
        (version, "production")
    }
    managed = [a["labels"]["alertname"] for a in stack.alertmanager_alerts()]
    assert names.ALERT_PERFORMANCE in managed, managed
    relay_log = stack.logs["relay"].read_text()
    assert f"dispatched: {names.ALERT_PERFORMANCE} {s.model}/{version} (production)" in relay_log
    step("4 wrong labels: alert fired, relay dispatched")
    return dispatch
