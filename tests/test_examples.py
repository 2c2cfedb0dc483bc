"""examples/: the GitHub Actions workflow and the pre-commit hook run the commands they say.

Each test parses the example's YAML and runs its tether commands (the workflow's ``run:``
scripts as GitHub runs them, ``bash -eo pipefail``; the hook's ``entry`` and ``args``) against a
small store built here, in a folder laid out as the example expects: ``tether.toml`` (the
examples' policy) at the root and the store at ``data/tether.duckdb``. A store that keeps the
policy passes the gate; one that breaks it fails the gate with exit code 1 and still leaves the
reports the later steps publish.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tether import Store

EXAMPLES = Path(__file__).parents[1] / "examples"
BIN = Path(sys.executable).parent  # the venv's bin: the `tether` console script


def _texts(n: int, rng: random.Random) -> list[str]:
    vocab = [f"term{i}" for i in range(300)]
    return [" ".join(rng.sample(vocab, 15)) for _ in range(n)]


def _build(root: Path, *, keep: bool) -> None:
    """The datasets the examples name: real, pool (synthetic), train (mixed), holdout (real).
    ``keep=False``: the pool is upper-cased (trivially told from real) and one held-out item
    is copied into train."""
    rng = random.Random(7)
    real, holdout, train = _texts(40, rng), _texts(30, rng), _texts(30, rng)
    pool = [t if keep else t.upper() for t in _texts(40, rng)]
    if not keep:
        train[0] = holdout[0]
    provenance = {"origin": "synthetic", "label_origin": "real", "family": "rule",
                  "generator": "words@1"}
    (root / "data").mkdir()
    with Store(root / "data" / "tether.duckdb") as s:
        for name, texts in (("real", real), ("holdout", holdout), ("train", train)):
            s.ingest(name, [{"text": t, "label": "a" if i % 2 else "b"}
                            for i, t in enumerate(texts)], origin="real", label_origin="real")
        s.ingest("pool", [{"text": t, "label": "a" if i % 2 else "b"}
                          for i, t in enumerate(pool)], **provenance)
        s.ingest("train", [{"text": t, "label": "a"} for t in pool[:10]], **provenance)
    shutil.copy(EXAMPLES / "tether.toml", root / "tether.toml")


def _env(*layers: dict | None) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "COLUMNS": "200"}
    for layer in layers:
        env |= {k: str(v) for k, v in (layer or {}).items()}
    return env


def _workflow() -> dict:
    return yaml.safe_load((EXAMPLES / "github-actions" / "tether.yml").read_text())


def _runs_tether(step: dict) -> bool:
    return any(line.strip().startswith("tether ") for line in step.get("run", "").splitlines())


def test_workflow_installs_audits_gates_and_publishes():
    job = _workflow()["jobs"]["data-gate"]
    steps = job["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    assert any(r.startswith("pip install tether") for r in runs)
    commands = [line.strip() for r in runs for line in r.splitlines() if line.strip()]
    assert any(c.startswith("tether audit mirage") for c in commands)
    assert any(c.startswith("tether check") and "--format junit --output" in c for c in commands)
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert uses["actions/upload-artifact"]["with"]["path"] == "reports/"
    assert uses["mikepenz/action-junit-report"]["with"]["report_paths"] == "reports/tether-check.xml"
    assert uses["github/codeql-action/upload-sarif"]["with"]["sarif_file"] == (
        "reports/tether-check.sarif")
    # every step after the gate runs even when the gate fails, or a failed gate hides its report
    gate = next(i for i, s in enumerate(steps) if "--format junit" in s.get("run", ""))
    assert all(s.get("if") == "always()" for s in steps[gate + 1:])


@pytest.mark.parametrize("keep", [True, False], ids=["keeps-policy", "breaks-policy"])
def test_workflow_commands_run_against_a_store(tmp_path, keep):
    _build(tmp_path, keep=keep)
    workflow = _workflow()
    job = workflow["jobs"]["data-gate"]
    failed, codes = False, {}
    for step in job["steps"]:
        if not _runs_tether(step):
            continue
        if failed and step.get("if") != "always()":
            continue  # GitHub skips it after a failed step
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                               step["run"]], cwd=tmp_path, check=False, capture_output=True, text=True,
                              env=_env(workflow.get("env"), job.get("env"), step.get("env")),
                              timeout=600)
        codes[step["name"]] = done.returncode
        assert done.returncode in (0, 1), (step["name"], done.stderr)
        failed |= done.returncode != 0
    gate = 0 if keep else 1
    assert codes == {"Audit the data": 0, "Report": 0, "Policy gate": gate,
                     "Policy gate as SARIF": 0}
    reports = tmp_path / "reports"
    assert (reports / "tether-report.html").stat().st_size > 0
    twin = json.loads((reports / "tether-report.json").read_text())
    assert any(s["key"] == "mirage" and s["status"] == "ok" for s in twin["sections"])
    suite = ET.parse(reports / "tether-check.xml").getroot().find("testsuite")
    failures = {c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None}
    assert failures == (set() if keep else {"max_mirage_auc real vs pool",
                                            "no_contamination train → holdout"})
    sarif = json.loads((reports / "tether-check.sarif").read_text())
    errors = {(r["ruleId"], r["properties"]["target"]) for r in sarif["runs"][0]["results"]
              if r["level"] == "error"}
    assert errors == (set() if keep else {("max_mirage_auc", "real vs pool"),
                                          ("no_contamination", "train → holdout")})


def _hook_commands() -> list[list[str]]:
    """The command lines pre-commit runs for the tether hooks: ``entry`` then ``args``."""
    hooks = yaml.safe_load((EXAMPLES / "pre-commit" / ".pre-commit-hooks.yaml").read_text())
    config = yaml.safe_load((EXAMPLES / "pre-commit" / ".pre-commit-config.yaml").read_text())
    local = [h for repo in config["repos"] for h in repo["hooks"]]
    assert [h["id"] for h in hooks] == [h["id"] for h in local] == ["tether-check"]
    assert all(h["pass_filenames"] is False and h["always_run"] for h in [*hooks, *local])
    return [shlex.split(h["entry"]) + list(h.get("args", [])) for h in [*hooks, *local]]


@pytest.mark.parametrize("keep", [True, False], ids=["keeps-policy", "breaks-policy"])
def test_pre_commit_hook_commands_gate_the_commit(tmp_path, keep):
    _build(tmp_path, keep=keep)
    env = _env({"TETHER_STORE": "data/tether.duckdb"})  # the hooks file names no store
    # the audits the policy's mirage rule needs (a CI or pipeline step runs them)
    for audit in (["audit", "mirage", "--real", "real", "--synthetic", "pool"],
                  ["audit", "overlap", "--train", "train", "--eval", "holdout"]):
        assert subprocess.run(["tether", *audit], cwd=tmp_path, env=env, check=False, capture_output=True,
                              timeout=600).returncode == 0
    for argv in _hook_commands():
        assert argv[:2] == ["tether", "check"]
        done = subprocess.run(argv, cwd=tmp_path, env=env, check=False, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == (0 if keep else 1), done.stdout + done.stderr
        assert ("all 7 rules passed" if keep else "2 of 7 rules failed") in done.stdout
