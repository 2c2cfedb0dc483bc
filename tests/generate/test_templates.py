"""Templates: every combination or a seeded sample, with labels; clear errors for bad input."""

from __future__ import annotations

import json

import pytest

from tether.errors import InputError
from tether.generate import run
from tether.generate.templates import TemplateGenerator, load_slots, load_templates

TEMPLATES = [
    {"template": "Shares in {{ firm }} fell {{ pct }}% on {{ day }}.", "label": "business"},
    {"template": "{{ team }} beat {{ other }} {{ score }}", "label": "sport"},
    {"template": "A quiet day.", "label": "tech"},
]
SLOTS = {"firm": ["Acme", "Initech", "Globex"], "pct": [2, 5], "day": ["Monday", "Friday"],
         "team": ["Leeds", "Hull"], "other": ["York"], "score": ["2-1", "3-0", "1-0"]}


@pytest.fixture
def files(tmp_path):
    t = tmp_path / "templates.jsonl"
    t.write_text("\n".join(json.dumps(x) for x in TEMPLATES) + "\n")
    s = tmp_path / "slots.json"
    s.write_text(json.dumps(SLOTS))
    return t, s


def test_all_combinations_with_labels():
    out = list(TemplateGenerator(TEMPLATES, SLOTS).generate([], seed=0))
    assert len(out) == 3 * 2 * 2 + 2 * 1 * 3 + 1
    assert len({s["text"] for s in out}) == len(out)
    assert out[0]["text"] == "Shares in Acme fell 2% on Monday."
    assert {s["label"] for s in out if s["template"] == 1} == {"sport"}
    assert all(s["label_origin"] == "synthetic" and "parents" not in s for s in out)
    assert out[-1] == {"text": "A quiet day.", "label": "tech", "label_origin": "synthetic",
                       "template": 2, "slots": {}}


def test_sampled_n_is_distinct_and_seeded():
    gen = TemplateGenerator(TEMPLATES, SLOTS, n=8)
    a = [s["text"] for s in gen.generate([], seed=1)]
    assert len(a) == len(set(a)) == 8
    assert a == [s["text"] for s in gen.generate([], seed=1)]
    assert a != [s["text"] for s in gen.generate([], seed=2)]
    every = {s["text"] for s in TemplateGenerator(TEMPLATES, SLOTS).generate([], seed=0)}
    assert set(a) <= every
    # every combination is reachable, and slots agree with the text
    for s in gen.generate([], seed=3):
        assert all(str(v) in s["text"] for v in s["slots"].values())


def test_missing_slot_names_file_and_template(files):
    t, s = files
    slots = {k: v for k, v in SLOTS.items() if k != "score"}
    s.write_text(json.dumps(slots))
    with pytest.raises(InputError) as err:
        TemplateGenerator(load_templates(t), load_slots(s), templates_path=t, slots_path=s)
    assert str(t) in str(err.value) and "template 1" in str(err.value)
    assert "'score'" in str(err.value) and err.value.row == 1


def test_sandbox_blocks_attribute_escapes():
    gen = TemplateGenerator([{"template": "{{ x.__class__.__mro__ }}", "label": "a"}], {"x": [""]})
    with pytest.raises(InputError, match="template 0"):
        list(gen.generate([], seed=0))


def test_syntax_error_and_bad_files(tmp_path):
    with pytest.raises(InputError, match="template 0"):
        TemplateGenerator([{"template": "{{ x ", "label": "a"}], {"x": ["1"]})
    bad = tmp_path / "t.jsonl"
    bad.write_text('{"template": "a", "label": "b"}\n{oops\n')
    with pytest.raises(InputError) as err:
        load_templates(bad)
    assert err.value.line == 2
    listed = tmp_path / "t.json"
    listed.write_text(json.dumps(TEMPLATES))
    assert load_templates(listed) == TEMPLATES
    slots = tmp_path / "s.json"
    slots.write_text(json.dumps({"a": []}))
    with pytest.raises(InputError, match="non-empty list"):
        load_slots(slots)


def test_run_writes_synthetic_labels(store, files):
    t, s = files
    gen = TemplateGenerator(load_templates(t), load_slots(s), n=10)
    result = run(store, gen, None, "tpl", seed=4)
    assert (result.added, result.failed) == (10, 0)
    rows = store.table("tpl").to_pylist()
    assert {(r["origin"], r["label_origin"], r["family"], r["generation"]) for r in rows} == \
        {("synthetic", "synthetic", "rule", 1)}
    assert all(r["parents"] == [] for r in rows)
    assert json.loads(rows[0]["generator_config"])["n"] == 10


@pytest.mark.parametrize("source", [
    "{% include 'other.txt' %}", "{% include name %}", "{% import 'macros.j2' as m %}",
    "{% from 'macros.j2' import m %}", "{% extends 'base.j2' %}"])
def test_templates_cannot_include_other_files(files, source):
    t, _ = files
    t.write_text(json.dumps({"template": "x " + source, "label": "a"}) + "\n")
    with pytest.raises(InputError, match="templates cannot include other files") as err:
        TemplateGenerator(load_templates(t), {"name": ["x"]}, templates_path=t)
    assert str(t) in str(err.value) and err.value.row == 0


@pytest.mark.parametrize("source, reason", [
    ("{% for i in range(10**9) %}x{% endfor %}", "over the 16 MB cap"),
    ("{{ range(10**9) | list | length }}", "over the 16 MB cap"),
    ("{{ 'A' * 200000000 }}", "over the 16 MB cap"),
    ("{{ [n] * 200000000 }}", "over the 16 MB cap"),
    ("{{ 'A' | center(200000000) }}", "over the 16 MB cap"),
    ("{{ 'A'.ljust(200000000) }}", "over the 16 MB cap"),
    ("{{ '{:>200000000}'.format(n) }}", "over the 16 MB cap"),
    ("{{ '%200000000s' % n }}", "over the 16 MB cap"),
    ("{{ 2 ** 200000000 }}", "bits"),
    ("{% for i in range(100000) %}{{ 'A' * 1000 }}{% endfor %}", "rendered text"),
    ("{% for i in range(99999) %}{% endfor %}{{ range(200000) | list | length }}", "MAX_RANGE"),
])
def test_huge_outputs_are_failures_and_the_run_goes_on(store, source, reason):
    templates = [{"template": "small {{ n }}", "label": "a"},
                 {"template": "{{ n }}" + source, "label": "b"}]
    gen = TemplateGenerator(templates, {"n": [1, 2]})
    result = run(store, gen, None, "tpl", seed=0)
    assert (result.added, result.failed) == (2, 2)
    assert sorted(store.table("tpl").column("text").to_pylist()) == ["small 1", "small 2"]
    for failure in store.failures(result.run_id):
        assert failure["reason"].startswith("template 1: ") and reason in failure["reason"]


def test_bounded_sandbox_still_renders_ordinary_templates():
    gen = TemplateGenerator([{"template": "{{ 'ab' * n }}|{{ '%3s' % n }}|{{ '{:>3}'.format(n) }}|"
                                          "{{ 2 ** 10 }}|{{ 'x' | center(5) }}|"
                                          "{{ range(3) | join(',') }}", "label": "a"}], {"n": [2]})
    assert [s["text"] for s in gen.generate([], seed=0)] == ["abab|  2|  2|1024|  x  |0,1,2"]
