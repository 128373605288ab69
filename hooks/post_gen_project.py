"""Remove what the chosen options do not use and record the project's origin for cruft.

The answers were checked while cookiecutter prompted for them (template_guard.py at the
repository root); they arrive here as JSON data (``tojson``), never as code.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
# Rendered in the cookiecutter process: the template's URL or local clone, commit and skip list.
ORIGIN = json.loads(r"""{{ cookiecutter | provenance | tojson }}""")
PACKAGE = Path("src") / ANSWERS["package_name"]


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


def record_origin() -> None:
    """Write .cruft.json in cruft's own format, so `cruft check` and `cruft update` work.

    Only the answers are kept: none of the keys cookiecutter adds about this machine
    (``_output_dir``, ``_repo_dir``, ``_checkout``) nor the template's private settings.
    """
    answers = {key: value for key, value in ANSWERS.items() if not key.startswith("_")}
    answers |= {"_template": ORIGIN["template"], "_commit": ORIGIN["commit"]}
    state = {
        "template": ORIGIN["template"],
        "commit": ORIGIN["commit"],
        "checkout": ANSWERS.get("_checkout"),
        "context": {"cookiecutter": answers},
        "directory": None,
        "skip": ORIGIN["skip"],
    }
    Path(".cruft.json").write_text(json.dumps(state, indent=2, ensure_ascii=False) + "\n")


def record_toolkit_source() -> None:
    """Generated from a local checkout: install the platform package from that checkout.

    The Makefile reads .toolkit-source (git-ignored: it is a path on this machine) before its
    default, the template repository's git URL at actions_ref.
    """
    if not ORIGIN["local"]:
        return
    # ORIGIN's path is absolute; _repo_dir may be relative to where cookiecutter ran (`.` in the
    # README's command), which this hook, run from the project's folder, cannot resolve.
    actions = Path(ORIGIN["template"]) / "actions"
    if (actions / "pyproject.toml").is_file():
        Path(".toolkit-source").write_text(f"{actions.resolve()}\n")


def start_git_repository() -> None:
    """A git repository on ``main`` from the first minute, so that DVC works under git and the
    .gitignore decides what `git status` offers; nothing is staged or committed (the first
    commit is the team's, with their identity).

    Inside another repository (a monorepo) no nested one: `make pipeline` runs `dvc init
    --subdir` there. Under cruft this runs for both sides of an update's diff too: a bare
    ``git init`` writes the same files on both, so it adds nothing to the diff.
    """
    git = shutil.which("git")
    if git is None:
        print("git not found: the project is not a git repository (install git; git init -b main)")
        return
    inside = subprocess.run(
        [git, "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True, check=False
    )
    if inside.stdout.strip() == "true":
        return
    # `git init -b` needs git 2.28; symbolic-ref names the branch on any version.
    for command in (["init", "-q"], ["symbolic-ref", "HEAD", "refs/heads/main"]):
        done = subprocess.run([git, *command], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
            print(f"git {command[0]} failed ({reason}): the project is not a git repository yet")
            return


def keep_deploy_target(target: str) -> None:
    if target != "kubernetes":
        shutil.rmtree(Path("deploy"))


def main() -> int:
    record_toolkit_source()
    keep_model_family(ANSWERS["model_family"])
    keep_suite(ANSWERS["task"], ANSWERS["sample_dataset"])
    keep_deploy_target(ANSWERS.get("deploy_target", "docker"))
    # cruft sets _commit when it generates (create, or the two sides of an update's diff): it
    # writes .cruft.json itself, and a file written here would only add noise to its diff.
    if "_commit" not in ANSWERS:
        record_origin()
    start_git_repository()
    return 0


if __name__ == "__main__":
    sys.exit(main())
