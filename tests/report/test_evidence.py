"""Evidence you can read: pairs side by side with the shared passage marked, every sample id a
link to its record (fields, provenance, lineage) in the same page, and the sample browser."""

from __future__ import annotations

import base64
import hashlib
import random
import re
from html.parser import HTMLParser

import pytest
from markupsafe import escape

from tether import Store
from tether.audit.overlap import audit_overlap
from tether.report import build_report, evidence, render_html
from tether.report.views.overlap import shared_passage
from tether.report.views.records import SCRIPT, anchor

EVIL = "<script>alert('x')</script>"
SHARED = ("the central bank raised its main interest rate by half a point on thursday citing "
          "stubborn inflation in services and a tight labour market")


class Page(HTMLParser):
    """Every element id, every ``href="#…"``, and the text inside each ``<mark>``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.marks: list[str] = []
        self.scripts = 0
        self._mark: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "a" and (a.get("href") or "").startswith("#"):
            self.hrefs.append(a["href"][1:])
        if tag == "mark":
            self._mark = []
        if tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag == "mark" and self._mark is not None:
            self.marks.append("".join(self._mark))
            self._mark = None

    def handle_data(self, data):
        if self._mark is not None:
            self._mark.append(data)


@pytest.fixture(scope="module")
def report(report_store):
    with Store(report_store) as store:
        return build_report(store)


@pytest.fixture(scope="module")
def page(report):
    return render_html(report)


def _longest_common_run(a: list[str], b: list[str]) -> int:
    best = 0
    for i in range(len(a)):
        for j in range(len(b)):
            k = 0
            while i + k < len(a) and j + k < len(b) and a[i + k] == b[j + k]:
                k += 1
            best = max(best, k)
    return best


def test_shared_passage_is_the_longest_common_run_of_words():
    """Against brute force on random texts over a small vocabulary (many partial matches)."""
    rng = random.Random(7)
    for _ in range(200):
        a = [rng.choice(["ab", "cd", "ef", "gh"]) for _ in range(rng.randint(1, 25))]
        b = [rng.choice(["ab", "cd", "ef", "gh"]) for _ in range(rng.randint(1, 25))]
        ta, tb = ", ".join(a).upper(), " ".join(b)  # case and punctuation do not matter
        (s0, e0), (s1, e1) = shared_passage(ta, tb)
        run = re.findall(r"\w+", ta[s0:e0])
        assert len(run) == _longest_common_run(a, b)
        assert [w.lower() for w in run] == re.findall(r"\w+", tb[s1:e1])
    assert shared_passage("alpha beta", "gamma delta") == ((0, 0), (0, 0))


def test_pair_texts_side_by_side_with_the_shared_passage_marked_and_escaped(tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        store.ingest("train", [{"id": "t1", "text": f"{EVIL} Markets: {SHARED.upper()}. Shares fell."},
                               {"id": "t2", "text": "a different story about football scores"}],
                     origin="synthetic", family="rule", generator="g@1")
        store.ingest("eval", [{"id": "e1", "text": f"Earlier today {SHARED}, said analysts."},
                              {"id": "e2", "text": "weather: rain again in the north"}],
                     origin="real")
        audit_overlap(store, "train", "eval")
        report = build_report(store)
    page = render_html(report)
    parsed = Page(page)
    assert EVIL not in page and str(escape(EVIL)) in page  # inert, still shown
    assert parsed.scripts == 1  # the page's own; the sample's text is not a script
    marks = [" ".join(m.split()).lower().strip(" .") for m in parsed.marks]
    assert marks.count(SHARED) == 2  # both sides of the one pair, the shared passage exactly
    overlap = page[page.index('id="overlap"'):page.index('id="records"')]
    assert re.search(r'train <a class="rec" href="#rec-train-t1">t1</a>', overlap)
    assert re.search(r'eval <a class="rec" href="#rec-eval-e1">e1</a>', overlap)
    assert {r["id"] for r in report.records} == {"t1", "e1"}


def test_every_link_in_the_page_resolves_to_an_element(page, report):
    parsed = Page(page)
    ids = set(parsed.ids)
    assert len(ids) == len(parsed.ids)  # no id twice
    assert parsed.hrefs and set(parsed.hrefs) <= ids, set(parsed.hrefs) - ids
    records = [h for h in parsed.hrefs if h.startswith("rec-")]
    assert len(set(records)) == len(report.records)  # every record is linked from the browser
    # the ids in the section tables are links: the mirage sample table, the overlap pairs
    mirage = report.section("mirage").data["most_synthetic"][0]
    pair = report.section("overlap").data["ngram_overlap"][0]
    for dataset, sid in (("synthetic", mirage), ("synthetic", pair["train_id"]),
                         ("train", pair["eval_id"])):
        assert f'<a class="rec" href="#{anchor(dataset, sid)}">{sid}</a>' in page


def test_records_carry_fields_provenance_and_lineage(report, page):
    by = {(r["dataset"], r["id"]): r for r in report.records}
    pair = report.section("overlap").data["ngram_overlap"][0]
    child = by[("synthetic", pair["train_id"])]
    assert child["origin"] == "synthetic" and child["generator"] == "degrade@1"
    assert child["family"] == "rule" and child["run_id"] and child["label"]
    assert child["parents"] == [pair["eval_id"]] == child["ancestors"] == child["real_seeds"]
    assert "overlap" in child["named_by"]
    parent = by[("train", pair["eval_id"])]
    assert parent["origin"] == "real" and parent["parents"] == [] and "ancestors" not in parent
    block = page[page.index(f'id="{child["anchor"]}"'):]
    block = block[:block.index("</details>")]
    assert f'href="#{parent["anchor"]}"' in block  # its lineage links to its parent's record
    for shown in ("degrade@1", "rule", child["run_id"], "synthetic"):
        assert shown in block


def test_records_are_bounded(report_store, monkeypatch):
    monkeypatch.setattr(evidence, "MAX_RECORDS", 5)
    with Store(report_store) as store:
        small = build_report(store)
    assert len(small.records) == 5 and small.records_left_out > 0
    assert f"{small.records_left_out:,} more named samples left out" in render_html(small)
    monkeypatch.undo()
    monkeypatch.setattr(evidence, "MAX_NAMED", 3)
    with Store(report_store) as store:
        named = evidence.named("overlap", store.latest_result("overlap").data,
                               store.latest_result("overlap").params, evidence.MAX_NAMED)
    assert 0 < len(named) <= 3 * 9  # 8 paths and the verdicts' evidence, 3 each at most


def test_anchors_are_safe_and_distinct():
    weird = [("a", "b-c"), ("a-b", "c"), ("my set", "x"), ("my_set", "x"), ("d", 'x"><b>'),
             ("d", "x__b_"), ("d", "é")]
    anchors = [anchor(d, i) for d, i in weird]
    assert len(set(anchors)) == len(anchors)
    assert all(re.fullmatch(r"rec-[A-Za-z0-9_.:-]+", a) for a in anchors)


def test_browser_is_a_plain_table_without_script_and_its_script_is_allowed_by_hash(page, report):
    browser = page[page.index("<div data-browser>"):page.index('<div class="records">')]
    assert '<form class="filters" hidden>' in browser  # filters appear only when the script runs
    rows = re.findall(r"<tr data-dataset=[^>]*>", browser)
    assert len(rows) == len(report.records) and not any("hidden" in r for r in rows)
    script = re.search(r"<script>(.*?)</script>", page, flags=re.DOTALL).group(1)
    assert script == SCRIPT
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page
