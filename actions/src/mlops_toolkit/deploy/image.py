"""build-image: the project's Dockerfile with the model baked in, tagged, labelled, pushed."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import names
from ..errors import ToolkitError
from ..tracking import client as tracking
from . import dockerhost

BUILD_SUBDIR = ".mlops-build"  # inside the build context; removed after the build
MODEL_SUBDIR = f"{BUILD_SUBDIR}/model"
WHEELS_SUBDIR = f"{BUILD_SUBDIR}/wheels"  # the platform's own wheel, for the Dockerfile
SERVE_TXT = f"{BUILD_SUBDIR}/serve.txt"  # what the dependency layer installs (serve_requirements)
PINS_PY = f"{BUILD_SUBDIR}/pins.py"  # the model's version pins, run before the platform is in
# Fixed zip timestamps: the same toolkit source gives the same wheel bytes, so the image's
# platform layer stays cached across builds until the platform itself changes.
WHEEL_EPOCH = "315532800"


def toolkit_source() -> str:
    """Where this toolkit was installed from: its source folder, or the URL pip recorded."""
    here = Path(__file__).resolve().parents[3]
    if (here / "pyproject.toml").is_file():
        return str(here)  # an editable install or a checkout, as the actions use it
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        recorded = distribution("mlops-toolkit").read_text("direct_url.json")
    except PackageNotFoundError:
        recorded = None
    if recorded:
        info = json.loads(recorded)
        url, vcs = info["url"], info.get("vcs_info")
        if vcs:
            sub = info.get("subdirectory")
            pinned = f"{vcs['vcs']}+{url}@{vcs['commit_id']}"
            return pinned + (f"#subdirectory={sub}" if sub else "")
        if url.startswith("file://"):
            return url.removeprefix("file://")
    raise ToolkitError(
        "cannot find mlops-toolkit's source to put the server in the image: install it from "
        "its folder or a git URL (as the actions and `make install` do)"
    )


def _private_source(source: str, scratch: Path) -> str:
    """A source folder is built from a copy: setuptools writes build/ and *.egg-info into the
    folder it builds, so two builds of one checkout at once (jobs sharing a runner's copy of the
    actions, parallel test workers) broke each other, and a read-only checkout could not build."""
    folder = Path(source)
    if not folder.is_dir():
        return source  # a VCS URL: pip clones it afresh
    copy = scratch / "mlops-toolkit"
    skip = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".venv")
    shutil.copytree(folder, copy, ignore=skip)
    return str(copy)


def stage_toolkit_wheel(context: Path) -> Path:
    """Build the running toolkit's wheel into the build context; returns the wheel."""
    out = context / WHEELS_SUBDIR
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"),
            *("--wheel-dir", str(out), _private_source(toolkit_source(), Path(scratch))),
        ]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "SOURCE_DATE_EPOCH": WHEEL_EPOCH},
        )
    wheels = sorted(out.glob("mlops_toolkit-*.whl"))
    if result.returncode != 0 or not wheels:
        detail = (result.stderr.strip().splitlines() or ["no wheel written"])[-1]
        raise ToolkitError(f"cannot build the mlops-toolkit wheel for the image: {detail}")
    return wheels[0]


def stage_build_inputs(context: Path) -> Path:
    """What the Dockerfile reads beside the model, put into the build context: the platform's
    wheel, the dependency layer's requirements (serve_requirements.py) and the pins script.
    Returns the wheel."""
    from . import pins
    from .serve_requirements import serve_requirements

    wheel = stage_toolkit_wheel(context)
    lines = serve_requirements(context / "pyproject.toml", wheel)
    (context / SERVE_TXT).write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copyfile(pins.__file__, context / PINS_PY)
    return wheel


def fetch_model(version: tracking.Version, context: Path) -> Path:
    """Download the registered model into the build context (MODEL_DIR)."""
    import mlflow

    target = context / MODEL_SUBDIR
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=version.uri, dst_path=tmp, tracking_uri=tracking.tracking_uri()
            )
        except Exception as exc:
            raise ToolkitError(f"cannot download {version.uri}: {tracking.one_line(exc)}") from exc
        shutil.copytree(local, target)
    if not (target / "MLmodel").is_file():
        raise ToolkitError(f"{version.uri} is not an MLflow model (no MLmodel file)")
    return target


def image_tags(repository: str, version: str, git_commit: str) -> list[str]:
    tags = [f"{repository}:{version}"]
    if git_commit:
        tags.append(f"{repository}:sha-{git_commit}")
    return tags


def build(
    *,
    model_name: str,
    model_version: str,
    context: str,
    dockerfile: str,
    repository: str,
    git_commit: str,
    push: bool,
    registry: str = "",
    username: str = "",
    password: str = "",
    network: str | None = None,
    source: str = "",
) -> dict:
    ctx = Path(context).resolve()
    if not (ctx / dockerfile).is_file():
        raise ToolkitError(f"no Dockerfile at {ctx / dockerfile}")
    if ":" in repository.rsplit("/", 1)[-1] or "@" in repository:
        raise ToolkitError(f"image {repository!r} must be a repository without tag or digest")
    client = tracking.client()
    version = tracking.resolve(client, model_name, model_version)
    engine = dockerhost.connect()
    tags = image_tags(repository, version.version, git_commit)
    labels = {
        names.LABEL_SOURCE: source,
        names.LABEL_REVISION: git_commit,
        names.LABEL_CREATED: dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "org.opencontainers.image.version": version.version,
        names.LABEL_MODEL_NAME: model_name,
        names.LABEL_MODEL_VERSION: version.version,
    }
    fetch_model(version, ctx)
    try:
        stage_build_inputs(ctx)
        stream = engine.api.build(
            path=str(ctx),
            dockerfile=dockerfile,
            tag=tags[0],
            rm=True,
            forcerm=True,
            decode=True,
            network_mode=network,
            labels=labels,
            buildargs={
                "MODEL_DIR": MODEL_SUBDIR,
                "MODEL_NAME": model_name,
                "MODEL_VERSION": version.version,
                "GIT_COMMIT": git_commit or "unknown",
                "IMAGE_TAG": tags[-1].rsplit(":", 1)[-1],
            },
        )
        dockerhost.stream_errors(stream, "image build")
    finally:
        shutil.rmtree(ctx / BUILD_SUBDIR, ignore_errors=True)
    image = engine.images.get(tags[0])
    for tag in tags[1:]:
        image.tag(tag.rsplit(":", 1)[0], tag=tag.rsplit(":", 1)[1])
    digest = image.id
    reference = tags[0]
    if push:
        digest = _push(engine, repository, tags, registry, username, password)
        reference = f"{repository}@{digest}"
    _record(client, model_name, version.version, reference, digest)
    return {
        "image": tags[0],
        "tags": tags,
        "digest": digest,
        "reference": reference,
        "model_version": version.version,
    }


def _push(
    engine, repository: str, tags: list[str], registry: str, username: str, password: str
) -> str:
    if username or password:
        try:
            engine.login(
                username=username,
                password=password,
                registry=registry or repository.split("/", 1)[0],
                reauth=True,
            )
        except Exception as exc:
            raise ToolkitError(f"registry login failed: {tracking.one_line(exc)}") from exc
    digest = ""
    for tag in tags:
        try:
            stream = engine.api.push(
                repository, tag=tag.rsplit(":", 1)[1], stream=True, decode=True
            )
            log = dockerhost.stream_errors(stream, f"push of {tag}")
        except ToolkitError:
            raise
        except Exception as exc:
            raise ToolkitError(f"push of {tag} failed: {tracking.one_line(exc)}") from exc
        for line in log:
            if line.startswith("aux:") and "Digest" in line:
                digest = line.split("'Digest': '", 1)[1].split("'", 1)[0]
    if not digest:
        raise ToolkitError(f"the registry reported no digest for {repository}")
    return digest


def _record(client, model_name: str, version: str, reference: str, digest: str) -> None:
    try:
        client.set_model_version_tag(model_name, version, names.TAG_IMAGE, reference)
        client.set_model_version_tag(model_name, version, names.TAG_IMAGE_DIGEST, digest)
    except Exception as exc:
        raise ToolkitError(
            f"image built but not recorded on {model_name}/{version}: {tracking.one_line(exc)}"
        ) from exc
