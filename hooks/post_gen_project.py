"""Remove what the chosen options do not use and record the answers for `cruft update`."""

import json
import shutil
import sys
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
PACKAGE = Path("src") / ANSWERS["package_name"]
# Keys cookiecutter adds that describe this machine, not the project.
MACHINE_KEYS = ("_output_dir", "_repo_dir", "_checkout")


def keep_model_family(family: str) -> None:
    for module in (PACKAGE / "models").glob("*_family.py"):
        if module.stem != f"{family}_family":
            module.unlink()


def keep_suite(task: str, sample: str) -> None:
    suites = Path("expectations") / "suites"
    dataset = {"classification": "breast_cancer", "regression": "diabetes"}[task]
    chosen = suites / f"{dataset if sample == 'yes' else 'generic_' + task}.json"
    chosen.replace(Path("expectations") / "dataset.json")
    shutil.rmtree(suites)
    # data/external stays with the sample too: it is where `init-data` expects a team's own CSV.


def record_answers() -> None:
    path = Path(".cookiecutter.json")
    answers = json.loads(path.read_text())
    for key in MACHINE_KEYS:
        answers.pop(key, None)
    path.write_text(json.dumps(answers, indent=2, sort_keys=True) + "\n")


def main() -> int:
    keep_model_family(ANSWERS["model_family"])
    keep_suite(ANSWERS["task"], ANSWERS["sample_dataset"])
    record_answers()
    return 0


if __name__ == "__main__":
    sys.exit(main())
