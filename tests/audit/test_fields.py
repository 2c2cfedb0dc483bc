"""Audits on any field: a user field or the turns of ``messages`` measure exactly what the same
audit measures on a dataset whose ``text`` is that field; results name their field."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tether.audit._load import field_texts, load_pair, load_side
from tether.audit.coverage import audit_coverage
from tether.audit.diversity import audit_diversity
from tether.audit.faithfulness import audit_faithfulness
from tether.audit.labels import audit_labels
from tether.audit.mirage import audit_mirage
from tether.audit.overlap import audit_overlap
from tether.errors import InputError, NotFoundError


@pytest.fixture
def qa(store, bbc):
    """The same articles twice: ``plain_*`` with the body as ``text``; ``qa_*`` with the
    headline as ``text``, the body as ``response`` and a chat in ``messages``."""
    bodies = {r["text"].split("\n", 1)[1]: r for r in bbc.to_pylist()[::15]}  # BBC repeats a few
    rows = list(bodies.values())[:140]
    for name, part, origin in (("real", rows[:80], "real"), ("syn", rows[80:], "synthetic")):
        prov = {"origin": origin, "label_origin": "real",
                **({"family": "rule", "generator": "g@1"} if origin == "synthetic" else {})}
        store.ingest(f"plain_{name}", [{"id": r["id"], "text": r["text"].split("\n", 1)[1],
                                        "label": r["label"]} for r in part], **prov)
        store.ingest(f"qa_{name}", [
            {"id": r["id"], "text": r["text"].split("\n", 1)[0], "label": r["label"],
             "response": r["text"].split("\n", 1)[1],
             "messages": [{"role": "system", "content": "be brief"},
                          {"role": "user", "content": r["text"].split("\n", 1)[0]},
                          {"role": "assistant", "content": r["text"].split("\n", 1)[1]}]}
            for r in part], **prov)
    return store


def _without(d, *keys):
    return {k: v for k, v in d.items() if k not in ("field", "method", *keys)}


def test_load_side_reads_fields_and_turns(qa):
    plain = load_side(qa, "plain_real")
    assert load_side(qa, "qa_real", field="response").texts == plain.texts
    assert load_side(qa, "qa_real", field="messages", turns="assistant").texts == plain.texts
    side = load_side(qa, "qa_real", field="messages", turns="user")
    assert side.texts == load_side(qa, "qa_real").texts and side.field == "messages[user]"
    whole = load_side(qa, "qa_real", field="messages").texts[0]
    assert whole.startswith("be brief\n\n") and whole.endswith(plain.texts[0])
    r, s = load_pair(qa, "qa_real", "qa_syn", field="response")
    assert (r.field, len(r.texts), len(s.texts)) == ("response", 80, 60)


def test_fields_named_as_the_user_named_them(store, bbc):
    """Ingested with --text-field question --label-field answer, the audits take --field answer
    and --field question (the store keeps them as label and text) and record those names."""
    rows = bbc.to_pylist()[:40]
    store.ingest("named", [{"id": r["id"], "question": r["text"][:80], "answer": r["label"],
                            "context": r["text"]} for r in rows], origin="real",
                 label_origin="real", text_field="question", label_field="answer")
    answer, question = load_side(store, "named", field="answer"), load_side(store, "named",
                                                                             field="question")
    assert answer.texts == [r["label"] for r in rows] and answer.field == "answer"
    assert question.texts == [r["text"][:80] for r in rows]
    assert load_side(store, "named", field="context").texts == [r["text"] for r in rows]


def test_missing_field_and_bad_turns_are_clear(qa):
    with pytest.raises(NotFoundError, match=r"dataset 'qa_real' has no field 'answer'; its "
                                            r"fields are: text, label, messages, response"):
        load_side(qa, "qa_real", field="answer")
    with pytest.raises(InputError, match="--turns applies only to messages"):
        load_side(qa, "qa_real", field="response", turns="user")
    with pytest.raises(InputError, match="turns must be one of user, assistant, all"):
        load_side(qa, "qa_real", field="messages", turns="bot")


def _table(*fields):
    return pa.table({"id": [str(i) for i in range(len(fields))], "text": [None] * len(fields),
                     "label": [None] * len(fields), "fields": list(fields)})


def test_messages_formats_and_bad_messages():
    t = _table('{"m": [{"role": "user", "content": [{"type": "text", "text": "a"}, '
               '{"type": "image_url", "image_url": {}}, {"type": "text", "text": "b"}]}, '
               '{"role": "assistant", "content": null}, {"role": "tool", "content": "t"}]}',
               None, '{"m": [{"role": "user", "content": "q"}]}')
    assert field_texts(t, "m", "user") == ["a\nb", None, "q"]
    assert field_texts(t, "m", "assistant") == [None, None, None]
    assert field_texts(t, "m") == ["a\nb\n\nt", None, "q"]
    with pytest.raises(InputError, match=r"sample '1', field 'm': turn 0 has unknown role 'bot'"):
        field_texts(_table('{"m": [{"role": "user", "content": "x"}]}',
                           '{"m": [{"role": "bot", "content": "x"}]}'), "m", dataset="d")
    with pytest.raises(InputError, match="turn 1 is not a {role, content} object"):
        field_texts(_table('{"m": [{"role": "user", "content": "x"}, "hi"]}'), "m")
    with pytest.raises(InputError, match="messages must be a list"):
        field_texts(_table('{"m": [{"role": "user", "content": "x"}]}', '{"m": "hi"}'), "m")
    with pytest.raises(InputError, match="field 'x' is a dict, not text"):
        field_texts(_table('{"x": {"a": 1}}'), "x", dataset="d")
    assert field_texts(_table('{"x": 3}', '{"y": 1}'), "x") == ["3", None]


def test_mirage_and_coverage_on_a_field_equal_the_text_audit(qa):
    opts = {"permutations": 5, "folds": 3, "seed": 0}
    plain = audit_mirage(qa, "plain_real", "plain_syn", **opts)
    on_text = audit_mirage(qa, "plain_real", "plain_syn", field="text", **opts)
    assert on_text.to_dict() == plain.to_dict() and plain.field == "text"
    resp = audit_mirage(qa, "qa_real", "qa_syn", field="response", **opts)
    assert resp.field == "response" and _without(resp.to_dict()) == _without(plain.to_dict())
    chat = audit_mirage(qa, "qa_real", "qa_syn", field="messages", turns="assistant", **opts)
    assert chat.field == "messages[assistant]" and chat.c2st_auc == plain.c2st_auc
    headline = audit_mirage(qa, "qa_real", "qa_syn", **opts)
    assert headline.c2st_auc != plain.c2st_auc  # text is the headline here: another measure
    assert "field" not in qa.latest_result("mirage").params  # saved as before fields existed

    cov = audit_coverage(qa, "plain_real", "plain_syn", clusters=4)
    cov_resp = audit_coverage(qa, "qa_real", "qa_syn", field="response", clusters=4)
    assert cov_resp.field == "response" and _without(cov_resp.to_dict()) == \
        _without(cov.to_dict())


def test_diversity_labels_overlap_on_a_field(qa):
    div = audit_diversity(qa, "plain_syn", draws=3)
    div_resp = audit_diversity(qa, "qa_syn", field="response", draws=3)
    assert div_resp.field == "response" and _without(div_resp.to_dict()) == \
        _without(div.to_dict())
    lab = audit_labels(qa, "plain_real", folds=3)
    lab_resp = audit_labels(qa, "qa_real", field="messages", turns="assistant", folds=3)
    assert lab_resp.field == "messages[assistant]"
    assert _without(lab_resp.to_dict()) == _without(lab.to_dict())
    ov = audit_overlap(qa, "plain_syn", "plain_real", holdout="plain_syn")
    ov_resp = audit_overlap(qa, "qa_syn", "qa_real", holdout="qa_syn", field="response")
    assert ov_resp.field == "response" and ov_resp.memorization is not None
    assert _without(ov_resp.to_dict()) == _without(ov.to_dict())
    assert qa.latest_result("overlap").params["field"] == "response"


def test_faithfulness_on_a_field(store, bbc):
    rows = bbc.to_pylist()[::20][:100]
    for name, key in (("p", "text"), ("q", "response")):
        store.ingest(f"{name}_train", [{"id": f"{name}{r['id']}", key: r["text"],
                                        "label": r["label"]} for r in rows[:60]],
                     origin="real", label_origin="real", text_field="text" if key == "text"
                     else None)
        store.ingest(f"{name}_par", [{"id": f"{name}p{r['id']}", key: r["text"],
                                      "label": r["label"]} for r in rows[60:]],
                     origin="real", label_origin="real",
                     text_field="text" if key == "text" else None)
        store.ingest(f"{name}_kids", [{"id": f"{name}k{r['id']}", key: r["text"][:200].lower(),
                                       "label": r["label"], "parents": [f"{name}p{r['id']}"]}
                                      for r in rows[60:]],
                     origin="synthetic", label_origin="real", family="rule", generator="cut@1",
                     text_field="text" if key == "text" else None)
    plain = audit_faithfulness(store, "p_kids", classifier_train="p_train")
    resp = audit_faithfulness(store, "q_kids", classifier_train="q_train", field="response")
    assert resp.field == "response" and plain.field == "text"
    drop = ("worst", "classifier", "verdicts")  # verdicts quote the worst examples
    assert _without(resp.to_dict(), *drop) == _without(plain.to_dict(), *drop)
    assert [w["similarity"] for w in resp.worst] == [w["similarity"] for w in plain.worst]
