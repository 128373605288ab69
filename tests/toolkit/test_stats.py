"""Metrics and the paired bootstrap against scikit-learn, and the gate config's checks."""

from __future__ import annotations

import numpy as np
import pytest
from mlops_toolkit import metrics
from mlops_toolkit.errors import ToolkitError
from mlops_toolkit.gate import config as gate_config
from mlops_toolkit.gate import stats
from mlops_toolkit.gate.stats import Predictions
from sklearn import metrics as skm


@pytest.fixture
def binary():
    rng = np.random.default_rng(3)
    n = 20_000
    y = rng.integers(0, 2, n)
    s1 = np.clip(0.35 * y + rng.random(n) * 0.65, 0, 1).round(3)  # many ties
    s2 = np.clip(0.25 * y + rng.random(n) * 0.75, 0, 1)
    return y, Predictions((s1 > 0.5).astype(int), s1), Predictions((s2 > 0.5).astype(int), s2)


def test_point_estimates_equal_scikit_learn(binary):
    y, a, b = binary
    r = stats.evaluate(["f1", "roc_auc", "accuracy"], y, [a, b], resamples=50)
    assert r["f1"].values == pytest.approx(
        [skm.f1_score(y, a.labels), skm.f1_score(y, b.labels)], abs=1e-12
    )
    assert r["roc_auc"].values == pytest.approx(
        [skm.roc_auc_score(y, a.scores), skm.roc_auc_score(y, b.scores)], abs=1e-12
    )
    assert r["accuracy"].values[0] == pytest.approx(skm.accuracy_score(y, a.labels))


def test_regression_and_multiclass_estimates(binary):
    rng = np.random.default_rng(5)
    y = rng.normal(size=5000)
    p = y + rng.normal(size=5000) * 0.4
    r = stats.evaluate(["rmse", "mae", "r2"], y, [Predictions(p)], resamples=20)
    assert r["rmse"].values[0] == pytest.approx(skm.mean_squared_error(y, p) ** 0.5)
    assert r["mae"].values[0] == pytest.approx(skm.mean_absolute_error(y, p))
    assert r["r2"].values[0] == pytest.approx(skm.r2_score(y, p))
    yc = rng.integers(0, 4, 3000)
    pc = np.where(rng.random(3000) < 0.7, yc, rng.integers(0, 4, 3000))
    r = stats.evaluate(["f1"], yc, [Predictions(pc)], resamples=20)
    assert r["f1"].values[0] == pytest.approx(skm.f1_score(yc, pc, average="macro"))
    labels = np.array(["cat", "dog"])[yc % 2]
    r = stats.evaluate(
        ["f1"], labels, [Predictions(np.array(["cat", "dog"])[pc % 2])], resamples=20
    )
    assert r["f1"].values[0] == pytest.approx(
        skm.f1_score(labels, np.array(["cat", "dog"])[pc % 2], pos_label="dog")
    )


def test_bootstrap_is_seeded_and_paired(binary):
    y, a, b = binary
    one = stats.evaluate(["f1"], y, [a, b], resamples=200, seed=1)["f1"]
    same = stats.evaluate(["f1"], y, [a, b], resamples=200, seed=1)["f1"]
    other = stats.evaluate(["f1"], y, [a, b], resamples=200, seed=2)["f1"]
    assert one.diff_ci == same.diff_ci != other.diff_ci
    # Pairing: the interval of the difference is much narrower than unpaired intervals imply.
    width = one.diff_ci[1] - one.diff_ci[0]
    unpaired = (one.ci[0][1] - one.ci[0][0]) + (one.ci[1][1] - one.ci[1][0])
    assert width < unpaired
    assert one.diff_ci[0] < one.diff < one.diff_ci[1]


def test_interval_covers_the_truth_at_about_the_nominal_rate():
    """Coverage check: the 90% interval of the F1 difference covers the population value."""
    rng = np.random.default_rng(11)
    covered = 0
    trials = 60
    for t in range(trials):
        y = rng.integers(0, 2, 4000)
        a = np.where(rng.random(4000) < 0.85, y, 1 - y)  # 85% accurate
        b = np.where(rng.random(4000) < 0.80, y, 1 - y)  # 80% accurate
        r = stats.evaluate(
            ["accuracy"],
            y,
            [Predictions(a), Predictions(b)],
            resamples=300,
            confidence=0.9,
            seed=t,
            blocks=500,
        )["accuracy"]
        covered += r.diff_ci[0] <= 0.05 <= r.diff_ci[1]
    assert 0.75 <= covered / trials <= 1.0


def test_roc_auc_needs_binary_target():
    y = np.array([0, 1, 2, 1])
    with pytest.raises(ToolkitError, match="binary"):
        stats.evaluate(["roc_auc"], y, [Predictions(y, y.astype(float))], resamples=10)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"primary": {"metric": "f2"}}, r"primary\.metric: must be one of f1, .*, got 'f2'$"),
        (
            {"primary": {"metric": "rmse", "min_value": 3}},
            "primary: rmse is minimized; use max_value",
        ),
        (
            {"primary": {"metric": "f1", "direction": "minimize"}},
            "primary: direction .* contradicts",
        ),
        ({"primary": {"metric": "f1"}, "colour": 1}, r"unknown key colour \(known: primary, "),
        (
            {"primary": {"metric": "f1", "max_regression": -1}},
            r"primary\.max_regression: must be a finite number >= 0, got -1$",
        ),
        (
            {"primary": {"metric": "f1"}, "guards": [{"metric": "rmse"}]},
            r"guards\[0\]\.metric: rmse does not fit",
        ),
        (
            {"primary": {"metric": "f1"}, "bootstrap": {"resamples": 3}},
            r"bootstrap\.resamples: must be between 10 and 100000, got 3$",
        ),
        (
            {"primary": {"metric": "f1"}, "bootstrap": {"confidence": 1.5}},
            r"bootstrap\.confidence: must be in \[0\.5, 1\), got 1\.5$",
        ),
        (
            {"primary": {"metric": "f1", "min_value": "high"}},
            r"primary\.min_value: must be a finite number, got 'high'$",
        ),
        ([1, 2], "the file: must be a mapping, got a list$"),
    ],
)
def test_bad_gate_configs_are_refused(config, message):
    with pytest.raises(ToolkitError, match=message):
        gate_config.parse(config)


@pytest.mark.parametrize("decimals", [1, 3, None])  # heavy ties, some ties, none
def test_fast_auc_equals_scikit_learn_on_resampled_data(decimals):
    """The exact AUC and the per-resample AUC of the bootstrap, against scikit-learn with the
    same Poisson weights (a resample is the rows repeated by their weights)."""
    rng = np.random.default_rng(17)
    n = 4000
    y = rng.integers(0, 2, n)
    s = rng.normal(size=n) + 0.7 * y
    if decimals is not None:
        s = s.round(decimals)
    assert stats.exact_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    ids, g = stats.block_ids(n, n, seed=0)  # every row its own block
    bins, m = stats._score_bins(s, 10_000, seed=0)  # exact ranks: no binning
    hist = stats._histogram(ids, g, y, bins, m)
    for _ in range(10):
        w = rng.poisson(1.0, n)
        expected = skm.roc_auc_score(y, s, sample_weight=w)
        assert stats.exact_auc(np.repeat(y, w), np.repeat(s, w)) == pytest.approx(
            expected, abs=1e-12
        )
        from_blocks = metrics.get("roc_auc").from_blocks
        assert from_blocks(w @ hist) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("dtype", [np.uint64, np.int8, np.int64, bool])
def test_integer_labels_of_any_width(dtype):
    rng = np.random.default_rng(4)
    raw = rng.integers(0, 2, 3000)
    y = (raw * 200 - 100).astype(dtype) if dtype is np.int8 else raw.astype(dtype)  # int8: ±100
    p = np.where(rng.random(3000) < 0.8, y, y[::-1])
    r = stats.evaluate(["f1", "accuracy"], y, [Predictions(p)], resamples=20)
    assert r["f1"].values[0] == pytest.approx(skm.f1_score(y, p, pos_label=y.max()))
    assert r["accuracy"].values[0] == pytest.approx(skm.accuracy_score(y, p))
