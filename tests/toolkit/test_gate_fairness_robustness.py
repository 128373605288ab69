"""The gate's robustness checks and the gate.yaml sections of the responsible-AI checks.

Real data: palmerpenguins (strings, missing values, three classes, an integer year). Real
scikit-learn models where the property is the model's (a pipeline without an imputer cannot
score missing values); a predictor keyed on exact values where the property is the check's
(it must see predictions move under noise).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

GATE = {
    "primary": {"metric": None, "max_regression": 0.01},
    "bootstrap": {"resamples": 100, "seed": 5},
    "target": "species",
}


@pytest.fixture(scope="module")
def penguins():
    from palmerpenguins import load_penguins

    frame = load_penguins()
    return frame.drop(columns=["species"]), frame["species"].to_numpy()


def _config(**sections):
    from mlops_toolkit import metrics
    from mlops_toolkit.gate import config

    primary = {**GATE["primary"], "metric": metrics.default(metrics.CLASSIFICATION)}
    return config.parse({**GATE, "primary": primary, **sections})


def _pipeline(features, impute: bool):
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    steps = [SimpleImputer(strategy="median"), StandardScaler()] if impute else [StandardScaler()]
    encode = make_column_transformer(
        (make_pipeline(*steps), numeric),
        (OneHotEncoder(handle_unknown="ignore"), ["island"]),
    )
    return make_pipeline(encode, LogisticRegression(max_iter=1000))


def _predict(model):
    from mlops_toolkit.gate import stats

    return lambda frame: stats.Predictions(labels=np.asarray(model.predict(frame)))


def _evaluate(cfg, features, y, predict):
    from mlops_toolkit.gate import robustness

    return robustness.evaluate(cfg, features, y, predict(features), predict)


def test_a_stable_model_passes_and_one_that_cannot_score_missing_values_fails(
    penguins, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    features, y = penguins
    complete = features.dropna(subset=["bill_length_mm"])
    rule = {"noise": 0.05, "max_changed": 0.05, "max_drop": 0.05, "optional": ["body_mass_g"]}
    cfg = _config(robustness=rule)
    keep = features["bill_length_mm"].notna().to_numpy()
    for impute in (True, False):
        model = _pipeline(complete, impute).fit(complete, y[keep])
        checks, notes = _evaluate(cfg, complete, y[keep], _predict(model))
        by_name = {c.name: c for c in checks}
        noise = [c for c in checks if "numeric noise 5 %" in c.name]
        assert noise and all(c.passed for c in noise), noise
        missing = [c for c in checks if "optional values missing" in c.name]
        assert missing, by_name
        if impute:
            assert all(c.passed for c in missing), missing
        else:  # the model's own error is the finding, in one line
            (failed,) = missing
            assert not failed.passed and "cannot score" in failed.detail
            assert "NaN" in failed.detail and "\n" not in failed.detail
    assert any("optional body_mass_g" in n and "optional: gate.yaml" in n for n in notes)
    # Without a contract or gate.yaml's list, the columns missing in the holdout are optional.
    cfg = _config(robustness={})
    _, notes = _evaluate(cfg, complete, y[keep], _predict(model))
    assert any("optional sex" in n and "missing in the holdout" in n for n in notes), notes


def test_predictions_that_move_under_noise_fail_the_check(penguins, tmp_path, monkeypatch):
    """A predictor keyed on exact values (the last digit of a measurement) flips under noise."""
    from mlops_toolkit.gate import stats

    monkeypatch.chdir(tmp_path)
    features, y = penguins
    features, y = features.dropna(), y[features.notna().all(axis=1).to_numpy()]

    def brittle(frame):
        digit = (frame["body_mass_g"].to_numpy() // 25) % 2
        return stats.Predictions(labels=np.where(digit == 0, "Adelie", "Gentoo"))

    def steady(frame):
        heavy = frame["body_mass_g"].to_numpy() > 4500
        return stats.Predictions(labels=np.where(heavy, "Gentoo", "Adelie"))

    cfg = _config(robustness={"noise": 0.05, "max_changed": 0.1, "missing": False})
    (moved,), _ = _evaluate(cfg, features, y, brittle)
    assert not moved.passed and moved.value > 0.2, moved
    assert "predictions changed" in moved.detail
    (kept,), _ = _evaluate(cfg, features, y, steady)
    assert kept.passed and kept.value < 0.1


def test_the_data_contract_names_numeric_and_optional_columns(penguins, tmp_path, monkeypatch):
    """params.yaml's roles (year excluded) and the suite (sex may be missing) decide."""
    from mlops_toolkit.gate import robustness

    monkeypatch.chdir(tmp_path)
    features, _ = penguins
    suite = {
        "expectations": [
            {"type": robustness.NOT_NULL, "kwargs": {"column": c}}
            for c in features.columns
            if c != "sex"
        ]
        + [{"type": robustness.NOT_NULL, "kwargs": {"column": "sex", "mostly": 0.9}}]
    }
    (tmp_path / "suite.json").write_text(json.dumps(suite))
    (tmp_path / "params.yaml").write_text(
        "data:\n  roles:\n    numeric: [bill_length_mm, body_mass_g]\n    excluded: [year]\n"
        "validation:\n  suite: suite.json\n"
    )
    rule = _config(robustness={}).robustness
    numeric, optional, source = robustness.contract_columns(rule, features)
    # Listed columns keep their role; unlisted numbers are inferred numeric, the year excluded.
    assert numeric == ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    assert optional == ["sex"] and "suite.json" in source


def test_columns_named_in_gate_yaml_must_exist(penguins, tmp_path, monkeypatch):
    from mlops_toolkit.errors import ToolkitError
    from mlops_toolkit.gate import robustness

    monkeypatch.chdir(tmp_path)
    rule = _config(robustness={"numeric": ["bill_length_mm", "wingspan"]}).robustness
    with pytest.raises(
        ToolkitError, match=r"^gate config: robustness: .* no column\(s\) wingspan$"
    ):
        robustness.contract_columns(rule, penguins[0])
    from mlops_toolkit.gate import fairness, stats

    cfg = _config(slices={"columns": ["sex", "colony"], "max_gap": 0.1})
    with pytest.raises(ToolkitError, match=r"^gate config: slices.columns: .* no column 'colony'$"):
        fairness.evaluate(cfg, penguins[0], penguins[1], stats.Predictions(labels=penguins[1]))


@pytest.mark.parametrize(
    ("sections", "needle"),
    [
        ({"slices": {"columns": []}}, "slices.columns"),
        ({"slices": {"columns": ["sex"], "colour": 1}}, "slices.colour"),
        ({"slices": {"columns": ["sex"], "evidence": "vibes"}}, "estimate or interval"),
        ({"slices": {"columns": ["sex"], "min_rows": 0}}, "slices.min_rows"),
        ({"slices": {"columns": ["sex"], "max_gap": -0.1}}, "slices.max_gap"),
        ({"slices": {"columns": ["sex"], "max_value": 0.5}}, "use min_value"),
        ({"robustness": {"noise": 0}}, "robustness.noise"),
        ({"robustness": {"max_changed": 1.5}}, "robustness.max_changed"),
        ({"robustness": {"missing": "yes"}}, "robustness.missing"),
    ],
)
def test_bad_sections_are_one_clear_line(sections, needle):
    from mlops_toolkit.errors import ToolkitError

    with pytest.raises(ToolkitError) as caught:
        _config(**sections)
    line = str(caught.value)
    assert needle in line and "\n" not in line, line


def test_a_slice_metric_of_the_other_task_is_refused():
    from mlops_toolkit import metrics
    from mlops_toolkit.errors import ToolkitError

    other = metrics.default(metrics.REGRESSION)
    with pytest.raises(ToolkitError, match=f"slices.metric: {other} does not fit"):
        _config(slices={"columns": ["sex"], "metric": other})


def test_slices_on_a_numeric_column_are_quantile_bins_and_missing_is_a_slice(penguins):
    """body_mass_g in 4 bins; sex with its missing rows as a slice of their own (11 rows,
    below min_rows: shown, not judged)."""
    from mlops_toolkit.gate import fairness, stats

    features, y = penguins
    cfg = _config(slices={"columns": ["body_mass_g", "sex"], "max_gap": 1.0, "min_rows": 20})
    checks, rows, notes = fairness.evaluate(cfg, features, y, stats.Predictions(labels=y))
    bins = [r for r in rows if r.column == "body_mass_g"]
    assert len(bins) == 5 and sum(r.rows for r in bins) == len(y)  # 4 bins and (missing)
    sexes = {r.slice: r for r in rows if r.column == "sex"}
    assert sexes[fairness.MISSING].rows == 11 and not sexes[fairness.MISSING].judged
    assert all(r.value == 1.0 for r in rows)  # a perfect predictor, every slice
    assert all(c.passed and c.value == 0.0 for c in checks if c.value is not None)
    assert any(fairness.MISSING in n for n in notes)


def test_the_report_section_and_the_contract_round_trip(tmp_path):
    from mlops_toolkit import contracts
    from mlops_toolkit.ci import markdown

    detail = "x gap 0.3000 between sex=a (0.5, n=40) and sex=b (0.8, n=60)"
    check = contracts.GateCheck(
        "slices by sex: largest x gap ≤ 0.1", "slices", False, 0.3, 0.1, detail
    )
    row = contracts.SliceRow("sex", "a|b", 40, "x", 0.5, [0.4, 0.6], True)
    section = contracts.ResponsibleChecks([check], [row], ["a note"])
    verdict = {
        "passed": False,
        "mode": "bootstrap",
        "decision_rule": "r",
        "reason": None,
        "candidate": {"uri": "runs:/abc/model", "run_id": None, "version": None},
        "production": None,
        "rows": 100,
        "primary_metric": "x",
        "direction": "maximize",
        "bootstrap": {"resamples": 10, "confidence": 0.9, "seed": 1},
        "checks": [{"name": check.name, "passed": False, "value": 0.3}],
        "metrics": {},
        "responsible": dataclasses.asdict(section),
    }
    built = contracts.GateFile.build(verdict)
    assert built.responsible == section
    report = markdown.gate_markdown(verdict)
    assert f"**FAILED:** {check.detail}" in report
    assert "| sex = a\\|b | 40 | x | 0.5000 | [0.4000, 0.6000] |" in report
    assert "90% CI" in report and "- a note" in report
    # The pull request's comment (`report`) renders gate.json as read back.
    read = contracts.GateFile.read(built.write(tmp_path / "gate.json")).to_dict()
    comment = markdown.pull_request_markdown("m", None, read)
    assert f"**FAILED:** {check.detail}" in comment and "| sex = a\\|b | 40 |" in comment
    quiet = markdown.gate_markdown({**verdict, "responsible": None})
    assert "Responsible" not in quiet


def test_slice_values_are_the_registrys_on_the_slice_rows(penguins, tmp_path, monkeypatch):
    """Multiclass labels per island and a regression per sex: each slice's value is the
    holdout's metric on its rows (macro F1 over the holdout's classes: no island has all three
    species, and none reads as a binary F1), without an interval where a class is absent (the
    block statistics would read it as binary); the regression's slices are the registry's
    values inside their intervals. A regression's robustness counts the values moved by more
    than regression_change standard deviations of the target."""
    from mlops_toolkit import metrics
    from mlops_toolkit.gate import config, fairness, stats
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import f1_score

    monkeypatch.chdir(tmp_path)
    features, y = penguins
    model = _pipeline(features, impute=True).fit(features, y)
    labels = model.predict(features)
    cfg = _config(slices={"columns": ["island"], "max_gap": 1.0})
    _, rows, notes = fairness.evaluate(cfg, features, y, stats.Predictions(labels=labels))
    for row in rows:
        at = (features["island"] == row.slice).to_numpy()
        expected = f1_score(y[at], labels[at], average="macro", zero_division=0)
        assert row.value == pytest.approx(expected) and row.ci is None, row
    assert any("no interval" in n and "Biscoe" in n for n in notes), notes

    known = features.dropna()
    mass = known["body_mass_g"].to_numpy()
    inputs = known[["bill_length_mm", "flipper_length_mm"]]
    fitted = LinearRegression().fit(inputs, mass).predict(inputs)
    rmse = metrics.default(metrics.REGRESSION)
    cfg = config.parse(
        {
            "primary": {"metric": rmse, "max_regression": 1.0},
            "bootstrap": {"resamples": 100},
            "slices": {"columns": ["sex"], "max_gap": 100.0},
            "robustness": {"regression_change": 0.5, "max_changed": 0.1, "missing": False},
        }
    )
    predictions = stats.Predictions(labels=fitted)
    checks, rows, _ = fairness.evaluate(cfg, known, mass, predictions)
    for row in rows:
        at = (known["sex"] == row.slice).to_numpy()
        expected = metrics.compute(metrics.REGRESSION, mass[at], fitted[at])[rmse]
        assert row.value == pytest.approx(expected) and row.ci[0] <= row.value <= row.ci[1]
    (gap,) = checks
    assert gap.value == pytest.approx(abs(rows[0].value - rows[1].value))
    sd = mass.std()
    shifted = fitted + np.where(np.arange(len(mass)) % 4 == 0, sd, 0.1 * sd)  # a quarter moves

    from mlops_toolkit.gate import robustness

    (changed,), _ = robustness.evaluate(
        cfg,
        known,
        mass,
        predictions,
        lambda frame: stats.Predictions(labels=shifted),
    )
    assert changed.value == pytest.approx(0.25, abs=0.01) and not changed.passed
