"""Hyper-parameter sweeps (`mlops-toolkit sweep`): Optuna studies over a project's model factory.

- `space`: params.yaml's `sweep` section (folds, metric, the search space per model parameter)
  as a typed section of the project's params, checked when params.yaml loads; no heavy import.
- `factory`: the project's model factory and training split, imported from its package.
- `objective`: one trial: cross-validation folds reported as steps, so a pruner can stop it.
- `trials`: the MLflow parent run and one child run per trial, linked by tags.
- `study`: the Optuna study in an RDB storage beside the tracking store (resumable), the loop.
- `paramsfile`: the best trial's params written into params.yaml's `model.params`, in place.
- `propose`: the changed params.yaml proposed as a pull request (GitHub's REST API).

Optuna is the `sweep` extra and is imported inside the functions, so `--help` stays instant.
"""
