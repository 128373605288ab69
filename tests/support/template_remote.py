"""The template served as a real git remote, as a team reaches it: a bare repository over
``file://``, made from this checkout's working tree and tagged, and git's
``url.<base>.insteadOf`` (in a global git config of the test's own) redirecting
``https://github.com/`` to it, as a mirror or proxy would. Projects generated from
``https://github.com/<owner>/<repo>`` keep their product defaults and nothing about them knows
it is a test."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.project import published_copy


@dataclass(frozen=True)
class TemplateRemote:
    url: str  # https://github.com/<owner>/<repo>, redirected to the bare repository
    bare: Path
    env: dict[str, str]  # the environment that redirects github.com (git, cookiecutter, pip)
    sha: str  # the commit the tag names


def run(*command: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result


def serve_template(root: Path, repository: str, ref: str) -> TemplateRemote:
    """This checkout as https://github.com/<repository>, tagged ``ref``, under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    gitconfig = root / "gitconfig"
    # Where https://github.com/<owner>/<repo> lands: file://<root>/github/<owner>/<repo>.
    gitconfig.write_text(
        "[user]\n\tname = t\n\temail = t@example.com\n"
        f'[url "file://{root}/github/"]\n\tinsteadOf = https://github.com/\n'
    )
    (root / "cookiecutterrc").write_text(f"cookiecutters_dir: {root / 'cookiecutters'}\n")
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "COOKIECUTTER_CONFIG": str(root / "cookiecutterrc"),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    work = published_copy(root / "work")
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "template"]):
        run("git", *command, cwd=work, env=env)
    run("git", "tag", ref, cwd=work, env=env)
    bare = root / "github" / repository
    bare.parent.mkdir(parents=True)
    run("git", "clone", "-q", "--bare", work, bare, cwd=root, env=env)
    sha = run("git", "rev-parse", ref, cwd=work, env=env).stdout.strip()
    return TemplateRemote(f"https://github.com/{repository}", bare, env, sha)


def generate(remote: TemplateRemote, out: Path, ref: str, **answers: str) -> Path:
    """`cookiecutter --no-input <url> --checkout <ref>` with ``answers``; the project folder."""
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.iterdir())
    pairs = [f"{key}={value}" for key, value in answers.items()]
    command = ["cookiecutter", "--no-input", remote.url, "--checkout", ref, "-o", out, *pairs]
    run(*command, cwd=out, env=remote.env)
    (project,) = set(out.iterdir()) - before
    return project
