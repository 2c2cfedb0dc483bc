"""MLflow logging against a real local tracking store (SQLite), read back with MLflow's client."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tether import Store
from tether.integrations.mlflow import flatten

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed "
                                              "(pip install 'tether[mlflow]')")


@pytest.fixture(scope="module")
def tracking(tmp_path_factory):
    """One SQLite tracking store (and artifact folder) for this module (creating its tables
    takes seconds); the client on it. Each test reads back only the runs it made."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)  # what a user sets; gone after the module
        experiment = mlflow.create_experiment("tether", artifact_location=str(folder / "artifacts"))
        patch.setenv("MLFLOW_EXPERIMENT_ID", experiment)
        yield mlflow.tracking.MlflowClient(uri)


def artifact_json(client, run_id, path, tmp_path):
    local = client.download_artifacts(run_id, path, str(tmp_path))
    with open(local, encoding="utf-8") as f:
        return json.load(f)


def test_flatten_names_intervals_lists_and_params():
    metrics, params = flatten({
        "accuracy": {"estimate": 0.8, "ci": [0.7, 0.9], "method": "wilson"},
        "auc_ci": [0.6, None], "n": 40, "passed": True, "nan": float("nan"),
        "pairs": [{"a": 1}], "sections": [{"key": "mirage", "auc": 0.5}],
        "by_family": {"": 3}})
    assert metrics == {"accuracy.estimate": 0.8, "accuracy.lo": 0.7, "accuracy.hi": 0.9,
                       "auc_ci.lo": 0.6, "n": 40.0, "sections.mirage.auc": 0.5,
                       "by_family.none": 3.0}
    assert params == {"accuracy.method": "wilson", "passed": "True"}


def test_log_result_metrics_params_and_json_artifact(tracking, tmp_path, store):
    from tether.integrations.mlflow import log

    store.ingest("d", [{"text": "a"}, {"text": "b"}], origin="real")
    store.ingest("d", [{"text": "c", "parents": []}], origin="synthetic", family="rule",
                 generator="typos@1")
    summary = store.summary("d")
    logged = log(summary)
    run = tracking.get_run(logged.run_id)
    assert run.info.status == "FINISHED"  # a run of its own, ended once logged
    assert run.data.metrics["count"] == 3
    assert run.data.metrics["by_origin.synthetic"] == 1
    assert run.data.metrics["synthetic_share"] == pytest.approx(1 / 3)
    assert run.data.params["name"] == "d"
    assert logged.artifacts == ["tether/summary.json"]
    assert artifact_json(tracking, logged.run_id, "tether/summary.json", tmp_path) == \
        json.loads(json.dumps(summary.to_dict()))


def test_log_into_an_active_or_given_run_with_intervals(tracking):
    from tether.integrations.mlflow import log

    result = {"accuracy": {"estimate": 0.75, "ci": [0.6, 0.85]}, "method": "wilson"}
    with mlflow.start_run() as active:
        first = log(result, name="eval")
        assert first.run_id == active.info.run_id
    second = log({"gap": {"estimate": 0.1, "ci": [0.0, 0.2]}}, run=active.info.run_id,
                 name="gap")
    assert second.run_id == active.info.run_id
    metrics = tracking.get_run(active.info.run_id).data.metrics
    assert metrics == {"accuracy.estimate": 0.75, "accuracy.lo": 0.6, "accuracy.hi": 0.85,
                       "gap.estimate": 0.1, "gap.lo": 0.0, "gap.hi": 0.2}
    names = {a.path for a in tracking.list_artifacts(active.info.run_id, "tether")}
    assert names == {"tether/eval.json", "tether/gap.json"}


def test_report_mlflow_flag_logs_html_json_twin_and_section_numbers(tracking, tmp_path,
                                                                    save_json):
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        s.ingest("real", [{"text": f"real {i}", "label": "x"} for i in range(5)],
                 origin="real", label_origin="real")
        save_json(s, "mirage", {"c2st_auc": 0.9, "auc_ci": [0.85, 0.95]},
                  {"real": "real", "synthetic": "real"})
    from tether.cli import app

    out = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "r.html"), "--mlflow",
                                   "--store", str(path), "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    run_id = summary["mlflow_run"]
    assert summary["json"] == str(tmp_path / "r.json")  # the twin is written for MLflow
    run = tracking.get_run(run_id)
    assert run.data.metrics["mirage.c2st_auc"] == 0.9
    assert run.data.metrics["mirage.auc_ci.lo"] == 0.85
    assert run.data.params["mirage.status"] == "ok"
    names = {a.path for a in tracking.list_artifacts(run_id, "tether")}
    assert names == {"tether/r.html", "tether/r.json"}
    twin = artifact_json(tracking, run_id, "tether/r.json", tmp_path / "dl")
    assert twin == json.loads((tmp_path / "r.json").read_text())


def test_estimate_mlflow_flag_logs_the_estimates_with_intervals(tracking, tmp_path):
    from tether.cli import app

    gold, rest = tmp_path / "gold.jsonl", tmp_path / "rest.jsonl"
    gold.write_text("".join(json.dumps({"label": float(i % 3), "prediction": float(i % 3) + 0.1})
                            + "\n" for i in range(30)))
    rest.write_text("".join(json.dumps({"prediction": float(i % 3)}) + "\n" for i in range(90)))
    out = CliRunner().invoke(app, ["estimate", "--gold", str(gold), "--predicted", str(rest),
                                   "--metric", "mean", "--mlflow", "--json"],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)  # the run id goes to stderr, stdout stays JSON
    run_id = out.stderr.split("logged to MLflow run ")[1].split()[0]
    metrics = tracking.get_run(run_id).data.metrics
    classical = result["classical"]
    assert metrics["classical.estimate"] == pytest.approx(classical["estimate"])
    assert [metrics["classical.lo"], metrics["classical.hi"]] == pytest.approx(classical["ci"])
    names = {a.path for a in tracking.list_artifacts(run_id, "tether")}
    assert names == {"tether/estimate_result.json"}
