"""tether.toml's [columns] and [datasets.NAME] (issue 14 item 5): parsed with errors naming the
file, line and key; found in the current directory or beside the store; command-line options
win over [datasets.NAME], which wins over [columns]; policy sections left to the policy."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tether.cli import app
from tether.cli._common import FieldOpt, OriginOpt, StoreOpt, TextFieldOpt
from tether.config import Config, find_config, load_config, parse_config
from tether.errors import InputError
from tether.policy import parse_policy
from tether.store import Store

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

CONFIG = """\
max_synthetic_share = 0.5

[columns]
text_field = "body"
label_field = "topic"

[datasets.qa]
text_field = "question"
fields = ["question", "answer"]
label_field = "score"
label_range = [1, 5]
origin = "real"
label_origin = "real"
max_synthetic_share = 0.2
"""


def test_dataset_defaults_override_the_columns_and_policy_keys_are_left_alone():
    config = parse_config(CONFIG)
    assert config.defaults("news") == {"text_field": "body", "label_field": "topic"}
    assert config.defaults("qa") == {
        "text_field": "question", "label_field": "score", "fields": ["question", "answer"],
        "label_range": [1, 5], "origin": "real", "label_origin": "real"}
    assert config.defaults(None) == config.defaults("news")
    # the policy reads the same file and keeps its own keys only
    policy = parse_policy(CONFIG, "tether.toml")
    assert policy.max_synthetic_share == 0.5 and policy.dataset_shares == {"qa": 0.2}


def test_the_examples_policy_file_has_column_defaults_the_policy_ignores():
    text = (EXAMPLES / "tether.toml").read_text()
    assert parse_config(text).columns == {"text_field": "text", "label_field": "label"}
    assert parse_policy(text).mirage  # the policy is intact


BAD = [
    ('[columns]\ntext = "body"\n', 2, "text", "unknown key 'text' in [columns]"),
    ('[columns]\ntext_field = "body"\nlabel_field = 3\n', 3, "label_field",
     "[columns] label_field must be a field name, got 3"),
    ('[columns]\nfields = "a,b"\n', 2, "fields", "must be a list of field names"),
    ('# qa\n[datasets.qa]\norigin = "real"\n\n  label_range = [5, 1]\n', 5, "label_range",
     "must be [lo, hi], two finite numbers lo <= hi, got [5, 1]"),
    ('[datasets.qa]\nlabel_range = [1, nan]\n', 2, "label_range", "two finite numbers"),
    ('[datasets."my qa"]\norigin = "fake"\n', 2, "origin", "must be real or synthetic"),
    ('[datasets.qa]\ngenerator = "llm"\n', 2, "generator", "must be NAME@VERSION"),
    ('[datasets.qa]\nfamily = "llm"\n', 2, "family", "must be one of model, rule, simulation"),
    ('[datasets.qa]\ntext-field = "q"\n', 2, "text-field", "unknown key 'text-field'"),
    ('columns = 3\n', None, "columns", "expected a table [columns]"),
    ('datasets = 3\n', None, "datasets", "expected tables [datasets.NAME]"),
    ('[datasets]\nqa = 3\n', None, "datasets.qa", "expected a table [datasets.qa]"),
]


@pytest.mark.parametrize("text,line,key,message", BAD, ids=[b[3][:30] for b in BAD])
def test_an_unknown_key_or_a_wrong_type_names_the_file_the_line_and_the_key(
        text, line, key, message):
    with pytest.raises(InputError) as caught:
        parse_config(text, "conf/tether.toml")
    err = caught.value
    assert (err.path, err.line, err.field) == ("conf/tether.toml", line, key), str(err)
    assert message in err.message


def test_invalid_toml_names_the_file():
    with pytest.raises(InputError, match="^tether.toml: not valid TOML"):
        parse_config("[columns\n")


def test_found_in_the_current_directory_else_beside_the_store(tmp_path, monkeypatch):
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    monkeypatch.chdir(here)
    store = there / "s.duckdb"
    assert find_config(store) is None and load_config(store=store) == Config()
    (there / "tether.toml").write_text('[columns]\ntext_field = "beside"\n')
    assert find_config(store) == there / "tether.toml"
    assert load_config(store=store).defaults("x") == {"text_field": "beside"}
    (here / "tether.toml").write_text('[columns]\ntext_field = "here"\n')
    assert find_config(store) == Path("tether.toml")
    assert load_config(store=store).defaults("x") == {"text_field": "here"}
    assert load_config(there / "tether.toml").path == str(there / "tether.toml")


# ------------------------------------------------------------------- the command line
def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder with the CONFIG as tether.toml and two data files, as the current directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TETHER_STORE", raising=False)
    (tmp_path / "tether.toml").write_text(CONFIG)
    write_jsonl(tmp_path / "news.jsonl", [{"body": "a b", "topic": "x", "title": "A"},
                                          {"body": "c d", "topic": "y", "title": "C"}])
    write_jsonl(tmp_path / "qa.jsonl", [{"question": "why?", "answer": "so", "score": 3},
                                        {"question": "how?", "answer": "thus", "score": 5}])
    return tmp_path


def test_ingest_and_export_read_the_config_and_explicit_options_win(project):
    out = invoke("ingest", "news.jsonl", "-d", "news", "--origin", "real", "--label-origin",
                 "real", "--json")
    assert out.exit_code == 0, out.output
    # [datasets.qa]: fields, score labels in [1, 5], origins, all from the file
    assert invoke("ingest", "qa.jsonl", "-d", "qa", "--json").exit_code == 0
    with Store("tether.duckdb", read_only=True) as s:
        assert s.field_names("news") == {"id": "id", "text": "body", "label": "topic"}
        assert [r["text"] for r in s.records("news")] == ["a b", "c d"]
        assert s.declarations("qa") == {"text_fields": ["question", "answer"],
                                        "label_range": [1.0, 5.0]}
        assert {r["origin"] for r in s.records("qa")} == {"real"}
    # an explicit option wins over the file: title is the text, body a field of its own
    out = invoke("ingest", "news.jsonl", "-d", "titles", "--text-field", "title",
                 "--origin", "real", "--label-origin", "real")
    assert out.exit_code == 0, out.output
    with Store("tether.duckdb", read_only=True) as s:
        assert [r["text"] for r in s.records("titles")] == ["A", "C"]
    # the file's score range holds: 9 is refused; a range on the command line is the one the
    # dataset's declaration is compared with
    write_jsonl(project / "high.jsonl", [{"question": "what?", "answer": "it", "score": 9}])
    err = invoke("ingest", "high.jsonl", "-d", "qa").exception
    assert isinstance(err, InputError) and (err.line, err.field) == (1, "score")
    err = invoke("ingest", "high.jsonl", "-d", "qa", "--label-range", "0,10").exception
    assert isinstance(err, InputError) and err.field == "label_range"
    assert "was ingested with label_range 1,5" in err.message
    assert invoke("export", "qa", "--out", "qa.out.jsonl").exit_code == 0
    rows = [json.loads(x) for x in (project / "qa.out.jsonl").read_text().splitlines()]
    assert [(r["question"], r["answer"], r["score"]) for r in rows] == [
        ("why?", "so", 3), ("how?", "thus", 5)]


def test_the_config_beside_the_store_is_read_from_another_directory(project, tmp_path,
                                                                    monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("TETHER_STORE", str(project / "p.duckdb"))
    out = invoke("ingest", str(project / "news.jsonl"), "-d", "news", "--origin", "real",
                 "--label-origin", "real")
    assert out.exit_code == 0, out.output
    with Store(project / "p.duckdb", read_only=True) as s:
        assert s.field_names("news")["text"] == "body"


def test_a_bad_config_fails_the_command_naming_the_file_and_key(project):
    (project / "tether.toml").write_text('[columns]\ntext_feild = "body"\n')
    out = invoke("ingest", "news.jsonl", "-d", "news", "--origin", "real")
    assert isinstance(out.exception, InputError)
    assert str(out.exception).startswith("tether.toml, line 2, field text_feild: unknown key")
    assert not (project / "tether.duckdb").exists()


def echo_app() -> typer.Typer:
    """One command with the config-aware options, printing what it was given."""
    echo = typer.Typer()

    @echo.command()
    def show(dataset: str, text_field: TextFieldOpt = "text", origin: OriginOpt = None,
             field: FieldOpt = "text", store: StoreOpt = None) -> None:
        typer.echo(json.dumps([text_field, origin, field]))

    return echo


@pytest.mark.parametrize("args,expected", [
    (["news"], ["body", None, "body"]),                     # [columns]
    (["qa"], ["question", "real", "question"]),             # [datasets.qa] over [columns]
    (["qa", "--text-field", "q", "--origin", "synthetic", "--field", "answer"],
     ["q", "synthetic", "answer"]),                          # the command line over both
    (["--origin", "synthetic", "qa"], ["question", "synthetic", "question"]),  # in any order
])
def test_command_line_over_dataset_over_columns(project, args, expected):
    out = CliRunner().invoke(echo_app(), args, catch_exceptions=False)
    assert json.loads(out.output) == expected


def test_the_audits_field_defaults_to_the_configured_text_field(project):
    rng = random.Random(0)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    rows = [{"question": " ".join(rng.sample(words, 5)), "answer": " ".join(rng.sample(words, 3)),
             "score": rng.randint(1, 5)} for _ in range(40)]
    write_jsonl(project / "qa40.jsonl", rows)
    (project / "tether.toml").write_text(CONFIG.replace('[datasets.qa]', '[datasets.qa40]'))
    assert invoke("ingest", "qa40.jsonl", "-d", "qa40").exit_code == 0

    def diversity(*args: str) -> dict:
        out = invoke("audit", "diversity", "-d", "qa40", "--json", *args)
        assert out.exit_code == 0, out.output
        return json.loads(out.output)

    by_default = diversity()  # text_field "question", which the store keeps as text
    assert by_default == diversity("--field", "text")
    (project / "tether.toml").write_text(
        CONFIG.replace('[datasets.qa]', '[datasets.qa40]')
              .replace('text_field = "question"', 'text_field = "answer"'))
    answers = diversity()  # now "answer", a field among the others
    assert answers["field"] == "answer" and answers == diversity("--field", "answer")
    assert answers != by_default
