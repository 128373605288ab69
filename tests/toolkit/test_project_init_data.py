"""init-data (mlops_toolkit.project.init_data): roles, params, a derived suite that accepts its
own data, what changed on a second run, DVC tracking (DVC's Python API, in process: quiet, the
add all or nothing, one line on failure); on a generated project's files."""

import importlib.util
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import projectkit
import pytest
import yaml
from mlops_toolkit.data import dvcremote
from mlops_toolkit.errors import Terminated
from mlops_toolkit.project import init_data
from mlops_toolkit.project.expectations import validate
from mlops_toolkit.project.init_data import write_params
from mlops_toolkit.project.params import ROLES
from mlops_toolkit.project.tables import DataError
from projectkit import TASK, error_lines, load_params, main

generated, workdir = projectkit.generated, projectkit.workdir  # fixtures
with_dvc = pytest.mark.skipif(
    importlib.util.find_spec("dvc") is None, reason="dvc is a dev tool (make install)"
)


def run(source: str, target: str, exclude: list[str]) -> init_data.Outcome:
    return init_data.run(source, target, exclude, task=TASK)


@pytest.fixture
def mixed(workdir: Path) -> Path:
    """A small table of every role, with missing values and a missing target."""
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "age": rng.integers(18, 90, n),
            "income": rng.normal(50_000, 10_000, n).round(2),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "member": rng.choice(["yes", "no"], n),
            "signed_up": pd.date_range("2020-01-01", periods=n, freq="D").astype(str),
            "label": rng.choice(["churn", "stay"], n, p=[0.2, 0.8]),
        }
    )
    frame.loc[[3, 9], "income"] = np.nan
    frame.loc[4, "plan"] = None
    frame["label"] = frame["label"].astype(object)
    frame.loc[7, "label"] = None
    path = workdir / "mine.csv"
    frame.to_csv(path, index=False)
    return path


def test_roles_params_and_suite_come_from_the_data(mixed, workdir):
    outcome = run("mine.csv", "label", [])
    assert outcome.dropped == 1 and outcome.rows == 199
    assert outcome.roles["excluded"] == ["customer_id"]
    assert outcome.roles["numeric"] == ["age", "income"]
    assert outcome.roles["categorical"] == ["plan"]
    assert outcome.roles["boolean"] == ["member"]
    assert outcome.roles["date"] == ["signed_up"]
    params = load_params()
    assert (params.data.source, params.data.target) == ("mine.csv", "label")
    assert params.data.roles.date == ["signed_up"]
    suite = json.loads((workdir / "expectations" / "dataset.json").read_text())
    by_key = {(e["type"], e["kwargs"].get("column")): e for e in suite["expectations"]}
    nulls = by_key[("expect_column_values_to_not_be_null", "income")]
    assert 0.95 < nulls["kwargs"]["mostly"] < 0.99  # 2 of 199 missing, less the slack
    assert "present" in nulls["meta"]["notes"]
    assert by_key[("expect_column_values_to_be_in_set", "plan")]["kwargs"]["value_set"] == [
        "basic",
        "plus",
        "pro",
    ]
    age = by_key[("expect_column_values_to_be_between", "age")]["kwargs"]
    assert age["min_value"] < 18 and age["max_value"] > 89
    assert yaml.safe_load((workdir / "gate.yaml").read_text())["target"] == "label"
    assert "- mine.csv  # data.source" in (workdir / "dvc.yaml").read_text()


def test_the_derived_suite_accepts_its_data_and_catches_a_new_category(mixed, workdir):
    run("mine.csv", "label", [])
    frame = pd.read_csv(mixed).dropna(subset=["label"])
    frame.to_csv(workdir / "clean.csv", index=False)
    summary = validate(workdir / "clean.csv", "expectations/dataset.json", workdir / "reports")
    assert summary["success"], [f["message"] for f in summary["failures"]]
    frame.loc[0, "plan"] = "enterprise"
    frame.to_csv(workdir / "new.csv", index=False)
    summary = validate(workdir / "new.csv", "expectations/dataset.json", workdir / "reports")
    assert [f["column"] for f in summary["failures"]] == ["plan"]
    assert "'enterprise' at row(s) 1" in summary["failures"][0]["message"]


def test_running_again_on_new_data_lists_what_changed(mixed, workdir):
    assert run("mine.csv", "label", []).changes != []  # the shipped suite was replaced
    assert run("mine.csv", "label", []).changes == []
    frame = pd.read_csv(mixed)
    frame["age"] = frame["age"] + 40
    frame = frame.drop(columns=["member"])
    frame.to_csv(mixed, index=False)
    changes = run("mine.csv", "label", []).changes
    assert any(c.startswith("changed expect_column_values_to_be_between on age") for c in changes)
    assert any(c.startswith("removed expect_column_values_to_be_in_set on member") for c in changes)


def test_excluded_columns_and_bad_input_are_named(mixed, workdir):
    assert run("mine.csv", "label", ["age"]).roles["excluded"] == ["customer_id", "age"]
    with pytest.raises(DataError, match=r"no such column.*nope"):
        run("mine.csv", "label", ["nope"])
    with pytest.raises(DataError, match=r"missing column.*wrong"):
        run("mine.csv", "wrong", [])
    text = mixed.read_text().replace("plan,member", "plan,plan", 1)
    (workdir / "dup.csv").write_text(text)
    with pytest.raises(DataError, match=r"duplicated column name.*plan"):
        run("dup.csv", "label", [])


def test_a_single_class_target_is_refused_before_anything_is_written(mixed, workdir):
    frame = pd.read_csv(mixed)
    frame["label"] = "stay"
    frame.to_csv(workdir / "one.csv", index=False)
    before = (workdir / "params.yaml").read_text()
    with pytest.raises(DataError, match=r"target 'label' has a single class \('stay'\)"):
        run("one.csv", "label", [])
    assert (workdir / "params.yaml").read_text() == before


@pytest.mark.parametrize("separator,said", [(";", "';'-separated"), ("\t", "tab-separated")])
def test_a_semicolon_or_tab_separated_file_gets_a_hint(mixed, workdir, separator, said):
    frame = pd.read_csv(mixed)
    frame["income"] = frame["income"].astype(str).str.replace(".", ",")  # a decimal comma
    frame.to_csv(workdir / "semi.csv", index=False, sep=separator)
    before = (workdir / "params.yaml").read_text()
    with pytest.raises(DataError, match=rf"semi.csv: .*looks {said}.*to_csv"):
        run("semi.csv", "label", [])
    assert (workdir / "params.yaml").read_text() == before


def test_numbers_with_thousands_separators_are_named_not_taken_for_an_id(mixed, workdir):
    frame = pd.read_csv(mixed)
    frame["income"] = [f"{x:,.2f}" if x == x else None for x in frame["income"]]  # "51,234.50"
    frame.to_csv(workdir / "sep.csv", index=False)  # quoted: "51,234.50"
    before = (workdir / "params.yaml").read_text()
    with pytest.raises(DataError, match=r"column 'income' holds numbers with thousands separ"):
        run("sep.csv", "label", [])
    assert (workdir / "params.yaml").read_text() == before
    assert run("sep.csv", "label", ["income"]).roles["excluded"] == ["customer_id", "income"]


@pytest.mark.parametrize(
    "codes",
    [
        [9223372036854775808, 9223372036854775900, 12],  # pandas: uint64
        [-5, 9223372036854775808, 7],  # pandas: text
        [2**64, 3, 7],  # past uint64 too
    ],
)
def test_integers_just_past_int64_are_named_not_accepted(mixed, workdir, codes):
    frame = pd.read_csv(mixed)
    frame["counter"] = [codes[i % len(codes)] for i in range(len(frame))]
    frame.to_csv(workdir / "big.csv", index=False)
    before = (workdir / "params.yaml").read_text()
    past = next(c for c in codes if not -(2**63) <= c < 2**63)
    said = rf"column 'counter' holds integers past the 64-bit range \(e\.g\. {past}\)"
    with pytest.raises(DataError, match=said):
        run("big.csv", "label", [])
    assert (workdir / "params.yaml").read_text() == before
    # Excluded (it is not a feature), the rest of the data is used as before.
    assert run("big.csv", "label", ["counter"]).roles["numeric"] == ["age", "income"]


def test_an_id_past_int64_is_excluded_and_its_suite_accepts_the_data(mixed, workdir):
    frame = pd.read_csv(mixed)
    frame.insert(0, "order_no", [2**63 + 7 * i for i in range(len(frame))])
    frame.to_csv(workdir / "ids.csv", index=False)
    assert run("ids.csv", "label", []).roles["excluded"] == ["order_no", "customer_id"]
    frame.dropna(subset=["label"]).to_csv(workdir / "clean.csv", index=False)
    summary = validate(workdir / "clean.csv", "expectations/dataset.json", workdir / "reports")
    assert summary["success"], [f["message"] for f in summary["failures"]]


def test_a_target_name_with_quotes_and_a_hash_survives_running_twice(mixed, workdir):
    name = 'it\'s "the" #1 label'
    pd.read_csv(mixed).rename(columns={"label": name}).to_csv(workdir / "q.csv", index=False)
    for _ in range(2):  # the second run edits the lines the first one wrote
        run("q.csv", name, [])
    assert load_params().data.target == name
    gate = (workdir / "gate.yaml").read_text()
    assert yaml.safe_load(gate)["target"] == name
    assert gate.count("#1 label") == 1  # the # was not taken for the line's comment


def test_emoji_headers_read_back_as_written(mixed, workdir):
    """Outside the BMP: a JSON escape (\\ud83c...) in YAML reads back as two surrogates, and
    `train` then failed writing them (UnicodeEncodeError)."""
    columns = {"label": "label 🎯", "plan": "plan 📦"}
    pd.read_csv(mixed).rename(columns=columns).to_csv(workdir / "emoji.csv", index=False)
    run("emoji.csv", "label 🎯", [])
    params = load_params()
    assert params.data.target == "label 🎯" and "plan 📦" in params.data.roles.categorical
    gate = yaml.safe_load((workdir / "gate.yaml").read_text(encoding="utf-8"))
    assert gate["target"] == "label 🎯"
    for text in (workdir / "params.yaml", workdir / "gate.yaml"):
        text.read_text(encoding="utf-8").encode("utf-8")  # no lone surrogate anywhere


def test_parquet_is_read_too(mixed, workdir):
    pd.read_csv(mixed).to_parquet(workdir / "mine.parquet")
    assert run("mine.parquet", "label", []).roles["date"] == ["signed_up"]


def dvc_project(folder: Path, *, git: bool = False, remote: Path | None = None) -> None:
    """`dvc init` (in a git repository or not) unless done, and a default remote `team`: DVC's
    Python API, no process."""
    from dvc.config import Config
    from dvc.repo import Repo

    if git:
        subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    if not (folder / ".dvc").is_dir():
        with dvcremote.quiet([]):  # DVC's own handlers hold the stream of the test importing it
            Repo.init(str(folder), no_scm=not git).close()
    if remote is not None:
        with Config(dvc_dir=str(folder / ".dvc")).edit("repo") as conf:
            conf["remote"]["team"] = {"url": str(remote)}
            conf["core"]["remote"] = "team"


@with_dvc
@pytest.mark.skipif(shutil.which("dvc") is None, reason="dvc is a dev tool (make install)")
def test_a_tracked_source_is_pushed_to_the_default_remote(mixed, workdir):
    dvc_project(workdir)
    assert run("mine.csv", "label", []).pushed_to is None  # no remote: tracked, kept here
    dvc_project(workdir, remote=workdir / "remote")
    outcome = run("mine.csv", "label", [])
    assert outcome.tracked and outcome.pushed_to == "team"
    text = mixed.read_text()
    mixed.unlink()
    shutil.rmtree(workdir / ".dvc" / "cache")
    # What CI does: the data comes back from the remote.
    pull = ["dvc", "pull", "--quiet", "mine.csv.dvc"]
    subprocess.run(pull, cwd=workdir, check=True, capture_output=True)
    assert mixed.read_text() == text


@with_dvc
def test_dvc_in_process_says_nothing_and_its_add_is_all_or_nothing(
    mixed, workdir, monkeypatch, caplog, capfd
):
    dvc_project(workdir, git=True)
    caplog.set_level(logging.DEBUG)
    assert run("mine.csv", "label", []).tracked
    assert (workdir / ".gitignore").read_text() == "/mine.csv\n"
    assert (workdir / "mine.csv.dvc").is_file()
    # As `dvc --quiet` was: no "To track the changes with git" advice, no DVC record in the
    # toolkit's log, nothing on the terminal.
    assert [r.name for r in caplog.records if r.name.split(".")[0].startswith("dvc")] == []
    said = capfd.readouterr()
    assert "track the changes" not in said.out + said.err
    shutil.copy(mixed, workdir / "more.csv")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    def cancelled(*args, **kwargs):
        raise Terminated()  # SIGTERM: a cancelled CI job (DVC rolls back on Exception only)

    # After the .gitignore is written, before the .dvc file: both as they were.
    monkeypatch.setattr("dvc.stage.Stage.dump", disk_full)
    with pytest.raises(DataError, match=r"^dvc add more.csv: \[Errno 28\] No space left on dev"):
        run("more.csv", "label", [])
    monkeypatch.setattr("dvc.stage.Stage.dump", cancelled)
    with pytest.raises(Terminated):
        run("more.csv", "label", [])
    assert (workdir / ".gitignore").read_text() == "/mine.csv\n"
    assert not (workdir / "more.csv.dvc").exists()


@with_dvc
def test_a_failed_push_is_one_line_with_dvcs_reason_and_the_source_stays_tracked(
    mixed, workdir, capsys
):
    (workdir / "a-file").write_text("")
    dvc_project(workdir, remote=workdir / "a-file" / "remote")  # a remote below a file
    assert main(["init-data", "--source", "mine.csv", "--target", "label"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = error_lines(err)
    said = "mine.csv is tracked, but dvc push to team failed: [Errno 20] Not a directory: "
    assert len(errors) == 1 and said + f"'{workdir}/a-file/remote/files/md5/" in errors[0], err
    assert (workdir / "mine.csv.dvc").is_file()


@with_dvc
def test_a_file_the_remote_refuses_is_named_not_counted(mixed, workdir, monkeypatch):
    """DVC's exception only counts the failures (`1 files failed to upload`): the error it
    logged names the cause."""
    from dvc_objects.fs.local import LocalFileSystem

    put_file = LocalFileSystem.put_file
    remote = workdir / "remote"

    def refused(self, from_file, to_info, *args, **kwargs):
        if str(to_info).startswith(str(remote)):
            raise PermissionError(13, "Permission denied", str(to_info))
        return put_file(self, from_file, to_info, *args, **kwargs)

    monkeypatch.setattr(LocalFileSystem, "put_file", refused)
    dvc_project(workdir, remote=remote)
    said = (
        r"^mine.csv is tracked, but dvc push to team failed: 1 files failed to upload "
        r"\(failed to transfer '[0-9a-f]{32}': \[Errno 13\] Permission denied: '.*/remote/"
    )
    with pytest.raises(DataError, match=said):
        run("mine.csv", "label", [])


def test_quiet_keeps_dvc_and_its_remote_clients_off_the_log_but_keeps_dvcs_errors(caplog):
    caplog.set_level(logging.DEBUG)
    dvc = logging.getLogger("dvc")
    before = (dvc.handlers[:], dvc.propagate, dvc.level)
    said: list[str] = []
    with dvcremote.quiet(said):
        logging.getLogger("aiobotocore.credentials").info("Found credentials in environment")
        logging.getLogger("dvc.repo.scm_context").info("To track the changes with git, run:")
        denied = PermissionError(13, "Permission denied")
        logging.getLogger("dvc_data.hashfile.transfer").error("failed %s", "x", exc_info=denied)
    assert caplog.records == []
    assert said == ["failed x: [Errno 13] Permission denied"]
    assert (dvc.handlers, dvc.propagate, dvc.level) == before


def test_dvc_initialised_but_not_installed_is_said_and_nothing_tracked(
    mixed, workdir, monkeypatch, caplog
):
    (workdir / ".dvc").mkdir()
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "dvc" else find_spec(name, *a)
    )
    assert not run("mine.csv", "label", []).tracked
    assert "not installed in this environment: mine.csv is not tracked" in caplog.text
    assert not (workdir / "mine.csv.dvc").exists()


def test_dvc_is_imported_only_when_init_data_tracks():
    code = (
        "import sys; from mlops_toolkit.project import init_data;"
        " from mlops_toolkit.data import dvcremote;"
        " print(sorted(m for m in sys.modules if m.split('.')[0] == 'dvc'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.parametrize(
    "source,target",
    [("data/réseau\\raw.csv", "prix €"), ("C:\\data\\x.csv", "a\\1b"), ("d/🙂.csv", "🙂 y")],
)
def test_non_ascii_and_backslashes_survive_into_params(tmp_path, source, target):
    params = tmp_path / "params.yaml"
    params.write_text(
        "# keep me\ndata:\n  source: data/raw.csv  # where\n  target: y\n"
        "  roles:\n    id: []\ntrain:\n  seed: 1\n",
        encoding="utf-8",
    )
    found: dict[str, list[str]] = {role: [] for role in ROLES}
    write_params(params, source, target, found)
    text = params.read_text(encoding="utf-8")
    loaded = yaml.safe_load(text)
    assert (loaded["data"]["source"], loaded["data"]["target"]) == (source, target)
    assert text.startswith("# keep me\n") and loaded["train"] == {"seed": 1}
