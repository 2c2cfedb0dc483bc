"""The result registry: every audit and evaluation kind, declared once.

A kind is a name (``mirage``), a title, the frozen dataclass its computation returns, the command
that makes it and a one-line lede. :data:`KINDS` is the only place a kind's name is spelled:
results are saved by :meth:`tether.store.Store.save_result`, which finds the kind from the
result's type; the report iterates :data:`KINDS` and renders each with its view
(``tether.report.views.<name>``); the policy asks the store for results by their type. Nothing
else knows the list (cleanlab's Datalab registry is the model).

Every result class derives from :class:`Result`, which gives it ``from_dict``: the inverse of its
``to_dict()``, decoded field by field from the dataclass's type hints (nested results,
:class:`~tether.stats.Interval`, tuples, optional values); keys that ``to_dict`` derives (a
property, a method note, ``verdicts``) are ignored on the way back.

Each kind also names its verdict rule (``"module:function"`` in :mod:`tether.verdicts`) and
declares its limits, the documented defaults a policy may override (:meth:`Kind.judge`). A
registered result judges itself: ``result.verdicts``, and its ``to_dict()`` carries them under
``"verdicts"`` (added here, once, to every registered kind's ``to_dict``), so ``--json`` and the
saved data hold them.

Example:
    >>> kind("mirage").title
    'Mirage: can synthetic be told from real?'
    >>> kind("mirage").result_type.__name__
    'MirageResult'
    >>> kind("mirage").limits["fail_auc"]
    Limit(value=0.9, op='>=', source='default')
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar, Union

from tether.errors import NotFoundError
from tether.stats import Interval
from tether.verdicts import Limit, Verdict

R = TypeVar("R", bound="Result")


class Result:
    """Base of every result dataclass: ``from_dict`` inverts ``to_dict``.

    >>> @dataclass(frozen=True)
    ... class Pair(Result):
    ...     name: str
    ...     ci: Interval
    ...     def to_dict(self):
    ...         return {"name": self.name, "ci": self.ci.to_dict()}
    >>> Pair.from_dict({"name": "a", "ci": [0.1, 0.2]}).ci == (0.1, 0.2)
    True
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__repr__" not in cls.__dict__:  # set before @dataclass, which keeps a __repr__ it finds
            cls.__repr__ = Result.__repr__  # type: ignore[method-assign]
        own = cls.__dict__.get("to_dict")
        if own is None:
            return

        @functools.wraps(own)
        def to_dict(self: Result) -> dict[str, Any]:
            data = own(self)
            found = _registered(type(self))
            if found is None:  # a nested result (a suite, a mode): judged by its parent
                return data
            return {**data, "verdicts": [v.to_dict() for v in found.judge(data)]}

        cls._own_to_dict = own  # type: ignore[attr-defined]
        cls.to_dict = to_dict  # type: ignore[attr-defined]

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        """This result judged by its kind's rule with the default limits (a policy's limits
        apply in the report and ``tether check``)."""
        return kind_of(self).judge(self._own_to_dict())  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        """Short: the class, its headline numbers (:func:`headline`) and, for a registered kind,
        its verdicts by level with their values (``MirageResult(c2st_auc=0.99 [0.98, 1], ... |
        fail: detectable=0.99)``).

        >>> @dataclass(frozen=True)
        ... class Share(Result):
        ...     share: float
        ...     share_ci: Interval
        ...     n: int
        ...     def to_dict(self):
        ...         return {"share": self.share, "share_ci": self.share_ci.to_dict(), "n": self.n}
        >>> Share(0.25, Interval(0.2, 0.31), 400)
        Share(share=0.25 [0.2, 0.31], n=400)
        """
        own = getattr(self, "_own_to_dict", None)
        parts = [", ".join(headline(own() if own else {}))]
        if _registered(type(self)) is not None:
            try:
                verdicts = self.verdicts
            except (KeyError, TypeError, ValueError, IndexError, AttributeError):
                verdicts = ()
            by_level = {lv: [v.check + (f"={v.value:.3g}" if isinstance(v.value, (int, float))
                                        else "") for v in verdicts if v.level == lv]
                        for lv in ("fail", "warn", "pass")}
            parts.append("; ".join(f"{lv}: {', '.join(c)}" for lv, c in by_level.items() if c))
        text = " | ".join(p for p in parts if p)
        return f"{type(self).__name__}({text})"

    def _repr_html_(self) -> str:
        """Notebook display: the report's own view of this result's kind, resolved by name
        (:data:`NOTEBOOK_VIEW`); a result that is not a registered kind shows its text form."""
        if _registered(type(self)) is None:
            import html

            return f"<pre>{html.escape(repr(self))}</pre>"
        return _resolve(NOTEBOOK_VIEW)(self)

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        return decode_fields(cls, data)


#: "module:function" rendering a registered result as HTML for notebooks (the report's views),
#: imported on first display so that the results layer never imports the report.
NOTEBOOK_VIEW = "tether.report.notebook:result_html"
#: Top-level numbers that are settings, not findings: :func:`headline` leaves them out.
_SETTINGS = frozenset({"alpha", "seed", "threshold", "max_pairs", "bands", "rows", "candidates",
                       "repeats", "audit_id", "slices_tested"})


def headline(data: Mapping[str, Any], most: int = 4) -> list[str]:
    """The first ``most`` top-level numbers of a result's JSON form as ``key=value``, each with
    its interval (the ``STEM_ci`` key of a key that starts or ends with ``STEM``).

    >>> headline({"c2st_auc": 0.991, "auc_ci": [0.98, 1.0], "n_real": 400, "alpha": 0.05})
    ['c2st_auc=0.991 [0.98, 1]', 'n_real=400']
    """
    intervals = {k[:-3]: v for k, v in data.items() if k.endswith("_ci")
                 and isinstance(v, (list, tuple)) and len(v) == 2
                 and all(isinstance(x, (int, float)) for x in v)}
    out = []
    for key, value in data.items():
        if (isinstance(value, bool) or not isinstance(value, (int, float)) or key in _SETTINGS):
            continue
        text = f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value:,}"
        ci = next((v for stem, v in intervals.items()
                   if key == stem or key.startswith(f"{stem}_") or key.endswith(f"_{stem}")), None)
        out.append(text + (f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else ""))
    return out[:most]


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(importlib.import_module(cls.__module__)))


def decode(tp: Any, value: Any) -> Any:
    """``value`` (JSON-shaped) as an instance of the type hint ``tp``."""
    if value is None:
        return None
    if tp is not Any and isinstance(tp, type) and isinstance(value, tp):
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return decode(args[0], value) if len(args) == 1 else value
    if tp is Interval:
        return Interval.from_dict(value)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise TypeError(f"{tp.__name__}: expected an object, got {type(value).__name__}")
        return tp.from_dict(value) if "from_dict" in vars(tp) else decode_fields(tp, value)
    if origin is tuple:
        args = typing.get_args(tp)
        inner = args[0] if args else Any
        return tuple(decode(inner, v) for v in value)
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        return [decode(inner, v) for v in value]
    if origin is dict:
        _, inner = typing.get_args(tp) or (Any, Any)
        return {k: decode(inner, v) for k, v in value.items()}
    if tp is float and isinstance(value, (int, float)):
        return float(value)
    return value


def decode_fields(cls: type[R], data: Mapping[str, Any]) -> R:
    """The dataclass ``cls`` from the keys of ``data`` that name its fields, each decoded by its
    type hint (a custom ``from_dict`` renames keys, then calls this)."""
    hints = _hints(cls)
    return cls(**{f.name: decode(hints[f.name], data[f.name])
                  for f in dataclasses.fields(cls) if f.init and f.name in data})


@dataclass(frozen=True)
class Kind:
    """One registered kind: its name, title, result type, command, lede, verdict rule and the
    rule's default limits."""

    name: str
    title: str
    result: str  #: "module:Class" of the result type, imported on first use
    command: str  #: the command that makes it; ``{param}`` fields filled from saved params
    lede: str
    rule: str = ""  #: "module:function" judging the result's JSON form (tether.verdicts)
    limits: Mapping[str, Limit] = field(default_factory=dict, hash=False)

    @property
    def result_type(self) -> type[Result]:
        return _resolve(self.result)

    def judge(self, data: Mapping[str, Any], params: Mapping[str, Any] | None = None,
              overrides: Mapping[str, Limit] | None = None) -> tuple[Verdict, ...]:
        """The verdicts of a result's JSON form: ``params`` (saved parameters) name the
        datasets in the findings; ``overrides`` (a policy's limits) replace defaults.

        >>> [v.level for v in kind("mirage").judge({"c2st_auc": 0.8})]
        ['warn']
        >>> [v.level for v in kind("mirage").judge(
        ...     {"c2st_auc": 0.8}, overrides={"fail_auc": Limit(0.7, ">", "policy p.toml")})]
        ['fail']
        """
        if not self.rule:
            return ()
        unknown = set(overrides or {}) - set(self.limits)
        if unknown:
            raise NotFoundError(f"kind {self.name!r} has no limit {min(unknown)!r}; its "
                                f"limits: {', '.join(self.limits) or 'none'}")
        rule = _resolve(self.rule)
        return tuple(rule(data, params or {}, {**self.limits, **(overrides or {})}))


def _resolve(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _limits(**values: float | tuple[float, str]) -> dict[str, Limit]:
    return {k: Limit(*v) if isinstance(v, tuple) else Limit(v) for k, v in values.items()}


KINDS: tuple[Kind, ...] = (
    Kind("mirage", "Mirage: can synthetic be told from real?", "tether.audit.mirage:MirageResult",
         "tether audit mirage --real {real} --synthetic {synthetic}",
         "Profile and classifier two-sample test of synthetic against real data.",
         "tether.verdicts:mirage", _limits(warn_auc=0.75, fail_auc=0.9)),
    Kind("coverage", "Coverage of real data", "tether.audit.coverage:CoverageResult",
         "tether audit coverage --real {real} --synthetic {synthetic}",
         "Precision and recall of distributions (k-NN manifolds): fidelity and coverage.",
         "tether.verdicts:coverage", _limits(warn_recall=(0.8, "<"), fail_recall=(0.5, "<"))),
    Kind("overlap", "Overlap and contamination", "tether.audit.overlap:OverlapResult",
         "tether audit overlap --train {train} --eval {eval}",
         "Near-duplicates (MinHash + LSH, exact Jaccard) between training and evaluation data.",
         "tether.verdicts:overlap", _limits(max_contaminated=(0, ">"))),
    Kind("labels", "Label issues by generator", "tether.audit.labels:LabelIssuesResult",
         "tether audit labels --dataset {dataset}",
         "Confident learning on out-of-fold probabilities of a default student.",
         "tether.verdicts:labels", _limits(warn_rate=0.05, fail_rate=0.15)),
    Kind("generator", "Generator audit", "tether.audit.generator:GeneratorAuditResult",
         "tether audit generator --gold {gold} --generated {generated}",
         "The generator's labels against real gold labels on the same inputs.",
         "tether.verdicts:generator", _limits(max_slices=(0, ">"), warn_systematic=0.5)),
    Kind("diversity", "Diversity per generation", "tether.audit.diversity:DiversityResult",
         "tether audit diversity --dataset {dataset}",
         "Distinct n-grams, compression, tail mass and spread, generation after generation.",
         "tether.verdicts:diversity", _limits(max_drops=(0, ">"))),
    Kind("faithfulness", "Faithfulness of derived samples",
         "tether.audit.faithfulness:FaithfulnessResult",
         "tether audit faithfulness --dataset {dataset}",
         "Does each perturbation or paraphrase keep its parent's meaning?",
         "tether.verdicts:faithfulness", _limits(warn_flip=0.1, fail_flip=0.25)),
    Kind("style", "Style and objective: how synthetic answers are written",
         "tether.audit.style:StyleResult",
         "tether audit style --real {real} --synthetic {synthetic} --field {field}",
         "Length, hedging, politeness, refusals, formatting and openers, real against synthetic.",
         "tether.verdicts:style", _limits(max_shifts=(0, ">"))),
    Kind("eval", "Evaluation: real suites first", "tether.evaluate.suites:EvalResult",
         "tether eval --predictions PREDICTIONS.jsonl --suites {holdout}",
         "Real suites are acceptance tests; synthetic suites are unit tests, reported apart.",
         "tether.verdicts:evaluation",
         _limits(max_failed=(0, ">"), warn_gap=0.05, max_warnings=(0, ">"))),
    Kind("estimate", "Prediction-powered estimates", "tether.evaluate.ppi:EstimateResult",
         "tether estimate --gold GOLD.jsonl --predicted PREDICTED.jsonl",
         "A small real gold set corrects model-made labels into valid intervals.",
         "tether.verdicts:estimate"),
    Kind("sweep", "Synthetic ratio sweep", "tether.evaluate.sweep:SweepResult",
         "tether sweep --real {real} --synthetic {synthetic} --holdout {holdout}",
         "A student trained at each synthetic share, measured on real held-out data.",
         "tether.verdicts:sweep", _limits(max_slope_upper=(0, "<"))),
    Kind("sensitivity", "Sensitivity to the generator",
         "tether.evaluate.sensitivity:SensitivityResult",
         "tether sensitivity --gold {gold} --generated {generated} --holdout {holdout}",
         "How much real performance a better generator would buy.",
         "tether.verdicts:sensitivity", _limits(warn_gain=0.02)),
)


@cache
def _by_name() -> dict[str, Kind]:
    return {k.name: k for k in KINDS}


def source_name(source: Any) -> str:
    """How an input is named in a result's saved parameters: a dataset name or path as given,
    rows in memory by their count.

    >>> source_name("real-gold"), source_name([{"text": "a"}] * 3)
    ('real-gold', '<table of 3 rows>')
    """
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    size = getattr(source, "num_rows", None)
    if size is None and hasattr(source, "__len__"):
        size = len(source)
    return "<rows>" if size is None else f"<table of {size} rows>"


def kind(name: str) -> Kind:
    """The registered kind called ``name``; NotFoundError naming the known kinds otherwise."""
    try:
        return _by_name()[name]
    except KeyError:
        raise NotFoundError(f"no result kind {name!r}; known kinds: "
                            f"{', '.join(_by_name())}") from None


def _registered(cls: type) -> Kind | None:
    path = f"{cls.__module__}:{cls.__qualname__}"
    return next((k for k in KINDS if k.result == path), None)


def kind_of(result: Result | type[Result]) -> Kind:
    """The kind whose result type ``result`` is (an instance or the class)."""
    cls = result if isinstance(result, type) else type(result)
    found = _registered(cls)
    if found is None:
        raise NotFoundError(f"{cls.__qualname__} is not a registered result type; add it to "
                            "tether.results.KINDS")
    return found
