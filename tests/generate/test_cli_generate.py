"""``tether generate`` rule and simulation commands on a small real BBC slice in a tmp store."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tether import Store
from tether.cli import app
from tether.errors import InputError
from tether.generate.simulate import SensorProfile, UserProfile, simulate_series

KEYS = {"run_id", "dataset", "added", "failed"}


def tether(store, *args):
    return CliRunner().invoke(app, ["generate", *args, "--store", str(store)])


def result_of(out):
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert set(data) == KEYS
    return data


@pytest.fixture
def db(tmp_path, bbc):
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        s.ingest("news", bbc.take(list(range(0, bbc.num_rows, 150))), origin="real",
                 label_origin="real")
    return path


def test_perturb(db):
    data = result_of(tether(db, "perturb", "--from", "news", "--into", "noisy", "--seed", "3",
                            "--ops", "typos=0.05,casing=0.1", "--n-per-seed", "2", "--json"))
    assert (data["dataset"], data["added"], data["failed"]) == ("noisy", 30, 0)
    with Store(db) as s:
        assert s.summary("noisy").by_family == {"rule": 30}
        assert s.run(data["run_id"])["seed"] == 3
    human = tether(db, "perturb", "--from", "news", "--into", "noisy2", "--ops", "drops=0.1")
    assert human.exit_code == 0 and "noisy2: added 15, failed 0" in human.stdout
    bad = tether(db, "perturb", "--from", "news", "--into", "x", "--ops", "typo=0.1")
    assert isinstance(bad.exception, InputError) and "unknown operation" in str(bad.exception)


def test_template(db, tmp_path):
    templates = tmp_path / "t.jsonl"
    templates.write_text('{"template": "{{ team }} won {{ score }}", "label": "sport"}\n'
                         '{"template": "{{ firm }} profits up", "label": "business"}\n')
    slots = tmp_path / "s.json"
    slots.write_text(json.dumps({"team": ["Hull", "Leeds"], "score": ["2-0", "1-0"],
                                 "firm": ["Acme", "Globex", "Initech"]}))
    data = result_of(tether(db, "template", "--templates", str(templates), "--slots", str(slots),
                            "--into", "tpl", "--json"))
    assert data["added"] == 7
    data = result_of(tether(db, "template", "--templates", str(templates), "--slots", str(slots),
                            "--into", "tpl3", "--n", "3", "--json"))
    assert data["added"] == 3
    slots.write_text(json.dumps({"team": ["Hull"], "score": ["2-0"]}))
    bad = tether(db, "template", "--templates", str(templates), "--slots", str(slots),
                 "--into", "x")
    assert isinstance(bad.exception, InputError)
    assert str(templates) in str(bad.exception) and "template 1" in str(bad.exception)


def test_probe(db):
    data = result_of(tether(db, "probe", "--from", "news", "--into", "stress",
                            "--attacks", "injection,role,jailbreak,ambiguity", "--json"))
    assert data["added"] == 60
    with Store(db) as s:
        kinds = s._arrow("SELECT json_extract_string(fields, '$.attack_type') AS a, count(*) AS n "
                        "FROM samples WHERE dataset = 'stress' GROUP BY 1").to_pylist()
    assert {k["a"]: k["n"] for k in kinds} == dict.fromkeys(
        ["injection", "role", "jailbreak", "ambiguity"], 15)


def test_simulate_users(db, tmp_path):
    with Store(db) as s:
        s.ingest("chat", [{"text": t} for t in ["ok thx u r great", "pls send teh file",
                                                "see u tmrw", "where is it"]], origin="real")
    out = tether(db, "simulate-users", "--fit-on", "chat", "--from", "news", "--into", "users",
                 "--profile-out", str(tmp_path / "p.json"), "--json")
    data = result_of(out)
    assert data["added"] == 15
    profile = UserProfile.load(tmp_path / "p.json")
    assert profile.lowercase_share == 1.0 and profile.n_texts == 4
    assert "typo_rate" in out.stderr  # the fitted profile is shown beside the JSON
    human = tether(db, "simulate-users", "--profile", str(tmp_path / "p.json"), "--from", "news",
                   "--into", "users2")
    assert human.exit_code == 0 and "abbreviation_rate" in human.stdout
    both = tether(db, "simulate-users", "--from", "news", "--into", "x")
    assert isinstance(both.exception, InputError)


def test_simulate_sensor(db):
    true = SensorProfile(level=5.0, drift=0.0, phi=0.6, noise_sd=0.2, dropout_rate=0.02,
                         stuck_rate=0.0, stuck_length=0.0, n=0)
    x = simulate_series(true, 2000, np.random.default_rng(1))
    with Store(db) as s:
        s.ingest("plant", [{"t": t, "value": None if np.isnan(v) else v}
                           for t, v in enumerate(x.tolist())], origin="real", text_field=None)
    data = result_of(tether(db, "simulate-sensor", "--fit-on", "plant", "--field", "value",
                            "--into", "sim", "--length", "500", "--json"))
    assert data["added"] == 500
    with Store(db) as s:
        rows = s.table("sim").to_pylist()
    values = [json.loads(r["fields"]).get("value") for r in rows]
    observed = [v for v in values if v is not None]
    assert abs(np.mean(observed) - 5.0) < 0.1 and all(r["text"] is None for r in rows)
