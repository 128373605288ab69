"""Reject bad answers before anything is written: one line on stderr, exit 1.

The answers arrive as JSON data (rendered with ``tojson``), never as code: a quote, a backslash or
a Jinja fragment in an answer cannot change this script.
"""

import json
import keyword
import re
import sys

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")

METRICS = {
    "classification": ("f1", "roc_auc", "accuracy"),
    "regression": ("rmse", "mae", "r2"),
}
# Names a package must not take: the standard library and what the project imports.
TAKEN = set(sys.stdlib_module_names) | {
    "mlflow", "sklearn", "pandas", "numpy", "great_expectations", "dvc", "xgboost", "yaml",
    "scipy", "matplotlib", "tests", "src",
}
ONE_LINE = re.compile(r"[^\r\n\t\x00-\x1f\x7f]{1,300}")
SLUG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
PACKAGE = re.compile(r"[a-z_][a-z0-9_]*")
EMAIL = re.compile(r"[^@\s\"'<>\\]+@[^@\s\"'<>\\]+\.[A-Za-z]{2,}")
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
TRACKING_URI = re.compile(r"(databricks|(https?|sqlite|postgresql|mysql|file)(\+[a-z0-9]+)?://[^\s\"'\\]+)")
LABELS = re.compile(r"[A-Za-z0-9_.:-]+(\s*,\s*[A-Za-z0-9_.:-]+)*")
REGISTRY = re.compile(r"[a-z0-9]+([.-][a-z0-9]+)*(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*")
REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")
REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,99}")


def problems(a: dict) -> list[str]:
    """Every reason the answers are unusable, most basic first."""
    found = []
    for key in ("project_name", "description", "author_name"):
        if not ONE_LINE.fullmatch(a[key]):
            found.append(f"{key} must be one line of 1 to 300 printable characters")
    slug, package = a["project_slug"], a["package_name"]
    if not SLUG.fullmatch(slug) or len(slug) > 64:
        found.append(
            f"project_slug {slug!r} is not a valid distribution name "
            "(lowercase letters, digits and single hyphens, starting with a letter)"
        )
    elif keyword.iskeyword(slug.replace("-", "_")):
        found.append(f"project_slug {slug!r} is a Python keyword")
    if not PACKAGE.fullmatch(package) or not package.isidentifier():
        found.append(f"package_name {package!r} is not a valid Python identifier")
    elif keyword.iskeyword(package) or keyword.issoftkeyword(package):
        found.append(f"package_name {package!r} is a Python keyword")
    elif package in TAKEN:
        found.append(f"package_name {package!r} would shadow a module the project imports")
    if not EMAIL.fullmatch(a["author_email"]):
        found.append(f"author_email {a['author_email']!r} is not an e-mail address")
    # Options with a fixed set of values: cookiecutter.json's _choices is their one home.
    for key, allowed in a["_choices"].items():
        if a[key] not in allowed:
            found.append(f"{key} {a[key]!r} is not supported (choose {' or '.join(allowed)})")
    if a["task"] in METRICS and a["primary_metric"] not in METRICS[a["task"]]:
        allowed = ", ".join(METRICS[a["task"]])
        found.append(
            f"primary_metric {a['primary_metric']!r} does not fit task {a['task']!r} "
            f"(choose one of {allowed})"
        )
    if not MODEL_NAME.fullmatch(a["registered_model_name"]):
        found.append(
            f"registered_model_name {a['registered_model_name']!r} is not a valid MLflow model "
            "name (letters, digits, '.', '_' and '-')"
        )
    uri = a["mlflow_tracking_uri"]
    if uri and not TRACKING_URI.fullmatch(uri):
        found.append(f"mlflow_tracking_uri {uri!r} is not a tracking URI (empty for embedded)")
    labels = a["gpu_runner_labels"].strip()
    if labels and not LABELS.fullmatch(labels):
        found.append(f"gpu_runner_labels {labels!r} must be comma-separated runner labels")
    if not REGISTRY.fullmatch(a["container_registry"]):
        found.append(
            f"container_registry {a['container_registry']!r} is not a registry reference "
            "(host[:port]/namespace, lowercase)"
        )
    if not REPOSITORY.fullmatch(a["actions_repository"]):
        found.append(f"actions_repository {a['actions_repository']!r} must look like owner/repo")
    ref = a["actions_ref"]
    if not REF.fullmatch(ref) or ".." in ref or ref.endswith((".", "/", ".lock")):
        found.append(f"actions_ref {ref!r} is not a valid git ref")
    return found


def main() -> int:
    found = problems(ANSWERS)
    if found:
        extra = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        print(f"ERROR: {found[0]}{extra}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
