"""The project API: what every generated project does the same way, kept once, here.

A generated project keeps only its team's code (params.yaml's team sections, data loading and
features, the model factory, the pipelines, a thin cli.py) and imports the rest from here:

- `params`: strict params.yaml loading into typed sections (`load`, the platform's sections
  `DataParams` `SplitParams` `ValidationParams` `MlflowParams` `DriftParams` `RoleParams`,
  `check_gate`, `ConfigError`, since 1.4 `SweepParams`, the sweep section, and since 1.6
  `EvaluateParams`, the evaluate section checked against the metrics registry);
- `tables`: CSV/Parquet readers with one-line errors (`read_csv`, `read_table`, `write_csv`,
  `require_columns`, `drop_missing_target`, `DataError`), and (`match_signature`, since 1.4)
  a frame cut to the columns a model's signature names, or one line naming missing and extra;
- `roles`: column roles inferred from data (`infer`, `resolve`, `features`, `ROLES`);
- `init_data`: `init-data` (roles, a derived expectation suite, gate.yaml, dvc.yaml, DVC);
- `expectations`: `validate-data` with Great Expectations and its reports
  (reports/validation.json, validation.html, data_docs/; `validate`, `ValidationFailed`);
- `runs`: MLflow set-up (`connect`), bounded retries, runs left open (`open_run`: named
  after the pull request or branch and short sha, the experiment marked classic ML), run
  inputs (`log_dataset`, since 1.1), the LoggedModel of a URI (`logged_model_id`, since 1.1),
  validate-data's reports on the run (`log_validation`, since 1.1), lineage tags, the run
  files of `mlops_toolkit.contracts` (`write_run_info`, `read_run_info`), and (`register`,
  since 1.3) the run's model registered once with the platform's lineage tags, description and
  model passport, as CI's `register` does; since 1.6, train's hand-off of the fitted model to
  evaluate (`save_trained`, `load_trained`) and what a step leaves beside its run (`log_outputs`:
  validate-data's reports, the rows prepare-data dropped, the command's log file);
- `plots`: evaluate's plots (`write`, `write_importance`; since 1.1): ROC and precision-recall
  with AUC/AP per class, the normalised confusion matrix, calibration, predicted against
  actual and residuals, permutation importance, and (`write_importance(..., model, features)`,
  since 1.2) the partial dependence with ICE lines of the top features; matplotlib loads
  inside the functions;
- `importance` (since 1.5): permutation importance on the holdout with a metric of the
  registry (`permutation_importance`), scikit-learn's numbers from one model call per group
  of features instead of one per feature and repeat;
- `logs`: one logging configuration, a log file per command;
- `frame`: the command line (`Project`, `main`, `build_parser`, `params`, `key_value`) with
  the platform's commands init-data, validate-data, check-gate, serve and drift;
- `testing` (since 1.6): the pytest plugin of a project's tests (`pytest_plugins` in its
  tests/conftest.py): the fixtures `workdir`, `source`, `target`, `naive_floor`, and tests marked
  `gpu` skipped without a GPU, bound to the project by its `shipped_params` fixture;
- `gpu_available` (since 1.4): the platform's GPU probe (NVML, else nvidia-smi), as `train`'s
  compute tags and `doctor` see the machine.

Every error is a `mlops_toolkit.errors.ToolkitError` (exit 1, one line). Importing this package
imports no heavy library: pandas, Great Expectations and MLflow load inside the functions.

API_VERSION follows semantic versioning apart from the toolkit's own version: a project written
against 1.x works with every later 1.y; a removal or an incompatible change is 2.0.
"""

from __future__ import annotations

# `params` is the module (load, the platform's sections); the loader of a command's params is
# `frame.params`: importing both under one name made the module silently win.
from . import params, plots
from .expectations import ValidationFailed
from .frame import Adder, Command, Project, build_parser, key_value, main
from .params import ROLES, ConfigError
from .tables import DataError

API_VERSION = "1.6"


def gpu_available() -> bool:
    """True when a GPU is visible: the platform's probe (compute.gpu: NVML, else nvidia-smi)."""
    from ..compute.gpu import available  # when called: project does not import compute

    return available()


__all__ = [
    "API_VERSION",
    "ROLES",
    "Adder",
    "Command",
    "ConfigError",
    "DataError",
    "Project",
    "ValidationFailed",
    "build_parser",
    "gpu_available",
    "key_value",
    "main",
    "params",
    "plots",
]
