"""The model passport of a version the scenario registered (issue 20): logged to its run, linked
from its description, and its lineage is the run's (registry/passport.py)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

FILES = {"passport/passport.md", "passport/passport.html", "passport/passport.json"}


def assert_passport(s, version: str) -> None:
    """Seconds: three small artifacts read back from the scenario's tracking server."""
    registered = s.client.get_model_version(s.model, version)
    run = s.client.get_run(registered.run_id)
    assert {f.path for f in s.client.list_artifacts(run.info.run_id, "passport")} == FILES
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(s.client.download_artifacts(run.info.run_id, "passport", tmp))
        facts = json.loads((local / "passport.json").read_text())
        markdown = (local / "passport.md").read_text()
        html = (local / "passport.html").read_text()
    lineage = facts["lineage"]
    assert facts["model"] == {
        "name": s.model,
        "version": version,
        "uri": f"models:/{s.model}/{version}",
    }
    assert lineage["run_id"] == run.info.run_id
    assert lineage["git_commit"] == run.data.tags["mlops.git_commit"]
    assert lineage["data_hash"] == run.data.tags["mlops.data_hash"]
    assert lineage["params"] == run.data.params
    logged = {d.dataset.digest for d in run.inputs.dataset_inputs}
    assert {d["digest"] for d in lineage["datasets"]} == logged and len(logged) == 2
    assert lineage["training_image"] == run.data.tags["mlops.train_image"]
    assert facts["gate"]["passed"] is True  # the pull request's gate registered it
    assert facts["data_contract"]["columns"] and facts["data_contract"]["suite"]["md5"]
    for text in (markdown, html):
        assert run.info.run_id in text and lineage["git_commit"] in text
        assert lineage["data_hash"] in text
    link = f"/runs/{run.info.run_id}/artifacts/passport/passport.html"
    assert link in (registered.description or ""), registered.description
