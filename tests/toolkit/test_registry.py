"""register, promote and rollback (registry part) against a real MLflow server: the CLI, the
fluent register path and concurrent processes. What needs only the registry's client (rollback
plans, the lock's takeover and timeout, quoted names) runs against both the in-memory fake and
a real server in test_tracking_contract.py."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ACTIONS_SRC, cli, register_version
from mlops_toolkit import names
from mlops_toolkit.errors import ToolkitError
from mlops_toolkit.registry import moves as registry
from mlops_toolkit.tracking import client as tracking


def client():
    from mlflow import MlflowClient

    return MlflowClient()


def alias_version(model_name: str, alias: str) -> str | None:
    found = tracking.version_by_alias(client(), model_name, alias)
    return found.version if found else None


def test_register_is_idempotent_per_commit(mlflow_server, logged, model_name):
    run_id, uri = logged["good"]
    # The gate's verdict on the run travels to the version.
    client().set_tag(run_id, names.TAG_GATE_PASSED, "true")
    first = cli(
        "register",
        "--model-name",
        model_name,
        "--model-uri",
        uri,
        "--run-id",
        run_id,
        "--git-commit",
        "a" * 40,
        "--pull-request",
        "17",
        "--alias",
        "challenger",
        "--data-version",
        "md5:1234",
    )
    assert first.returncode == 0, first.stderr
    second = registry.register(
        model_name=model_name, model_uri=uri, run_id=run_id, git_commit="a" * 40, alias="staging"
    )
    assert second["created"] is False and second["version"] == "1"
    assert len(registry.versions(client(), model_name)) == 1
    tags = tracking.get_version(client(), model_name, "1").tags
    assert tags[names.TAG_GIT_COMMIT] == "a" * 40
    assert tags[names.TAG_PULL_REQUEST] == "17"
    assert tags[names.TAG_DATA_VERSION] == "md5:1234"
    assert tags[names.TAG_GATE_PASSED] == "true"
    assert float(tags[names.TAG_METRIC_PREFIX + "f1"]) > 0.9
    assert alias_version(model_name, "challenger") == "1"
    assert alias_version(model_name, "staging") == "1"
    other = registry.register(
        model_name=model_name,
        model_uri=logged["good2"][1],
        run_id=logged["good2"][0],
        git_commit="b" * 40,
        alias="challenger",
    )
    assert other["created"] is True and other["version"] == "2"
    assert alias_version(model_name, "challenger") == "2"


def test_register_refuses_production_alias(mlflow_server, logged, model_name):
    with pytest.raises(ToolkitError, match="promote"):
        registry.register(
            model_name=model_name,
            model_uri=logged["good"][1],
            run_id=None,
            git_commit="c" * 40,
            alias="production",
        )


def test_promote_records_previous_and_rollback_walks_back(mlflow_server, logged, model_name):
    v1 = register_version(model_name, logged["good"][1])
    v2 = register_version(model_name, logged["good2"][1])
    first = registry.promote(model_name=model_name, version=v1, actor="tester")
    assert first == {"model_name": model_name, "version": v1, "previous": "", "changed": True}
    second = cli("promote", "--model-name", model_name, "--version", v2)
    assert second.returncode == 0, second.stderr
    assert alias_version(model_name, names.PRODUCTION) == v2
    assert tracking.get_version(client(), model_name, v2).tags[names.TAG_PREVIOUS_PRODUCTION] == v1
    again = registry.promote(model_name=model_name, version=v2)
    assert again["changed"] is False

    result = cli(
        "rollback", "--model-name", model_name, "--app", "x", "--port", "1", "--no-redeploy"
    )
    assert result.returncode == 0, result.stderr
    assert alias_version(model_name, names.PRODUCTION) == v1
    tags = tracking.get_version(client(), model_name, v1).tags
    assert tags[names.TAG_ROLLED_BACK_FROM] == v2
    assert "->" in client().get_registered_model(model_name).tags[names.TAG_LAST_ROLLBACK]

    # v1 replaced nothing: a second rollback has no target, fails clearly, changes nothing.
    result = cli(
        "rollback", "--model-name", model_name, "--app", "x", "--port", "1", "--no-redeploy"
    )
    assert result.returncode == 1
    assert "no earlier production version" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert alias_version(model_name, names.PRODUCTION) == v1


def test_promote_unknown_version_fails(mlflow_server, logged, model_name):
    register_version(model_name, logged["good"][1])
    result = cli("promote", "--model-name", model_name, "--version", "99")
    assert result.returncode == 1 and "not found" in result.stderr
    assert alias_version(model_name, names.PRODUCTION) is None


PROMOTER = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {src!r})
    from mlops_toolkit.registry import moves as registry, lock
    if {unlocked}:
        import contextlib
        registry.registry_lock = lambda *a, **k: contextlib.nullcontext("none")
    name, version, log, start_at = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    from mlops_toolkit.tracking import client as tracking
    tracking.client()  # connect before the barrier, so that all start together
    time.sleep(max(0.0, start_at - time.time()))
    def inside():
        with open(log, "a") as fh:
            fh.write(json.dumps({{"v": version, "event": "enter", "t": time.time()}}) + "\\n")
        time.sleep(0.4)  # widen the window between reading production and moving it
    result = registry.promote(model_name=name, version=version, on_locked=inside)
    with open(log, "a") as fh:
        fh.write(json.dumps({{"v": version, "event": "done", "prev": result["previous"],
                             "t": time.time()}}) + "\\n")
""")


def run_concurrent_promotions(
    tmp_path: Path, model_name: str, versions: list[str], unlocked: bool
) -> list[dict]:
    script = tmp_path / "promote.py"
    script.write_text(PROMOTER.format(src=str(ACTIONS_SRC), unlocked=unlocked))
    log = tmp_path / f"log-{unlocked}.jsonl"
    import time

    start_at = f"{time.time() + 20:.3f}"  # a barrier: every process has imported MLflow by then
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), model_name, v, str(log), start_at],
            stderr=subprocess.PIPE,
            text=True,
        )
        for v in versions
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    return [json.loads(line) for line in log.read_text().splitlines()]


def chain_is_complete(events: list[dict], versions: list[str], initial: str) -> bool:
    """Each promotion replaced the one before it: the previous-links form one chain."""
    done = {e["v"]: e["prev"] for e in events if e["event"] == "done"}
    follows = {prev: v for v, prev in done.items()}
    seen, cur = [], initial
    while cur in follows and len(seen) <= len(versions):
        cur = follows[cur]
        seen.append(cur)
    return sorted(seen) == sorted(versions) and len(set(done.values())) == len(versions)


def test_concurrent_promotions_are_serialised(mlflow_server, logged, model_name, tmp_path):
    v0 = register_version(model_name, logged["good"][1])
    registry.promote(model_name=model_name, version=v0)
    versions = [register_version(model_name, logged["good2"][1]) for _ in range(4)]
    events = run_concurrent_promotions(tmp_path, model_name, versions, unlocked=False)
    enters = sorted(e["t"] for e in events if e["event"] == "enter")
    assert len(enters) == 4
    # Critical sections never overlap: each starts at least the 0.4 s sleep after the last.
    assert all(b - a >= 0.39 for a, b in itertools.pairwise(enters))
    assert chain_is_complete(events, versions, v0)
    final = alias_version(model_name, names.PRODUCTION)
    done = {e["v"]: e["prev"] for e in events if e["event"] == "done"}
    assert final not in done.values()  # the last promotion's version is nobody's previous
    # The lock model is gone after the last release.
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException):
        client().get_registered_model(f"{names.LOCK_MODEL_PREFIX}{model_name}")


def test_without_the_lock_the_same_promotions_race(mlflow_server, logged, model_name, tmp_path):
    """Control: the check above can fail. Unlocked, concurrent promotions lose history."""
    v0 = register_version(model_name, logged["good"][1])
    registry.promote(model_name=model_name, version=v0)
    versions = [register_version(model_name, logged["good2"][1]) for _ in range(4)]
    events = run_concurrent_promotions(tmp_path, model_name, versions, unlocked=True)
    assert not chain_is_complete(events, versions, v0)


# MLflow's filter grammar has no escapes: each name breaks a naively quoted `name = '...'`.
QUOTED_NAMES = ["it's", 'say "hi"', "both '\" quotes", 'ends\\ and "x"']


@pytest.mark.parametrize("suffix", QUOTED_NAMES)
def test_names_with_quotes_register_find_promote_and_roll_back(
    mlflow_server, logged, model_name, suffix
):
    name = f"{model_name} {suffix}"
    # A decoy LIKE would also select (each quote a one-character wildcard): never confused.
    decoy = name.replace("'", "_").replace('"', "_").replace("\\", "_")
    register_version(decoy, logged["bad"][1])
    for commit, pr, uri in (("a" * 40, "5", logged["good"]), ("b" * 40, "6", logged["good2"])):
        result = registry.register(
            model_name=name,
            model_uri=uri[1],
            run_id=uri[0],
            git_commit=commit,
            alias="challenger",
            pull_request=pr,
        )
        assert result["created"] is True
    again = registry.register(
        model_name=name, model_uri=logged["good"][1], run_id=None, git_commit="a" * 40, alias=None
    )
    assert (again["created"], again["version"]) == (False, "1")
    assert sorted(v.version for v in registry.versions(client(), name)) == ["1", "2"]
    assert registry.find_candidate(model_name=name, pulls=[5], commit="")["version"] == "1"
    assert registry.find_candidate(model_name=name, pulls=[], commit="b" * 40)["version"] == "2"
    assert registry.set_alias(model_name=name, version="1", alias="staging")["version"] == "1"
    registry.promote(model_name=name, version="1")
    registry.promote(model_name=name, version="2")
    current, target = registry.rollback_plan(client(), name)
    registry.rollback_alias(client(), name, current, target)
    assert alias_version(name, names.PRODUCTION) == "1"
    assert alias_version(decoy, names.PRODUCTION) is None


def test_a_quoted_name_through_the_cli(mlflow_server, logged, model_name, tmp_path):
    name = f"{model_name} both '\" quotes"
    registry.register(
        model_name=name, model_uri=logged["good"][1], run_id=None, git_commit="c" * 40, alias=None
    )
    found = cli(
        "find-candidate",
        "--model-name",
        name,
        "--pr-number",
        "99",
        "--commit",
        "c" * 40,
        cwd=tmp_path,
    )
    assert found.returncode == 0, found.stderr
    assert f"`models:/{name}/1` from pull request" in found.stdout


@pytest.mark.parametrize("char", ["/", ":"])
def test_a_name_mlflow_refuses_is_one_line_before_any_call(mlflow_server, logged, tmp_path, char):
    name = f"team{char}churn"
    rule = f"model name {name!r} contains {char!r}: MLflow's registered model names cannot "
    for command in (
        ["find-candidate", "--commit", "d" * 40],
        ["register", "--model-uri", logged["good"][1], "--git-commit", "d" * 40],
        ["promote", "--version", "1"],
        ["set-alias", "--version", "1", "--alias", "staging"],
        ["rollback", "--app", "x", "--port", "1", "--no-redeploy"],
    ):
        result = cli(command[0], "--model-name", name, *command[1:], cwd=tmp_path)
        assert result.returncode == 1, (command, result.stderr)
        (line,) = result.stderr.strip().splitlines()
        assert line.endswith(f"{rule}contain '/' or ':'"), (command, line)
