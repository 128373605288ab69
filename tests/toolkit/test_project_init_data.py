"""init-data (mlops_toolkit.project.init_data): roles, params, a derived suite that accepts its
own data, what changed on a second run, DVC tracking; on a generated project's files."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import projectkit
import pytest
import yaml
from mlops_toolkit.project import init_data
from mlops_toolkit.project.expectations import validate
from mlops_toolkit.project.init_data import write_params
from mlops_toolkit.project.params import ROLES
from mlops_toolkit.project.tables import DataError
from projectkit import TASK, load_params

generated, workdir = projectkit.generated, projectkit.workdir  # fixtures


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


@pytest.mark.skipif(shutil.which("dvc") is None, reason="dvc is a dev tool (make install)")
def test_a_tracked_source_is_pushed_to_the_default_remote(mixed, workdir):
    import subprocess

    def dvc(*args: str) -> None:
        subprocess.run(["dvc", *args], cwd=workdir, check=True, capture_output=True)

    dvc("init", "--no-scm", "--quiet")
    assert run("mine.csv", "label", []).pushed_to is None  # no remote: tracked, kept here
    (workdir / "remote").mkdir()
    dvc("remote", "add", "--default", "team", str(workdir / "remote"))
    outcome = run("mine.csv", "label", [])
    assert outcome.tracked and outcome.pushed_to == "team"
    text = mixed.read_text()
    mixed.unlink()
    shutil.rmtree(workdir / ".dvc" / "cache")
    dvc("pull", "--quiet", "mine.csv.dvc")  # what CI does: the data comes back from the remote
    assert mixed.read_text() == text


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
