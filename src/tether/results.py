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
property, a method note) are ignored on the way back.

Example:
    >>> kind("mirage").title
    'Mirage: can synthetic be told from real?'
    >>> kind("mirage").result_type.__name__
    'MirageResult'
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar, Union

from tether.errors import NotFoundError
from tether.stats import Interval

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

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        return decode_fields(cls, data)


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
    """One registered kind: its name, title, result type, command and lede."""

    name: str
    title: str
    result: str  #: "module:Class" of the result type, imported on first use
    command: str  #: the command that makes it; ``{param}`` fields filled from saved params
    lede: str

    @property
    def result_type(self) -> type[Result]:
        module, _, cls = self.result.partition(":")
        return getattr(importlib.import_module(module), cls)


KINDS: tuple[Kind, ...] = (
    Kind("mirage", "Mirage: can synthetic be told from real?", "tether.audit.mirage:MirageResult",
         "tether audit mirage --real {real} --synthetic {synthetic}",
         "Profile and classifier two-sample test of synthetic against real data."),
    Kind("coverage", "Coverage of real data", "tether.audit.coverage:CoverageResult",
         "tether audit coverage --real {real} --synthetic {synthetic}",
         "Precision and recall of distributions (k-NN manifolds): fidelity and coverage."),
    Kind("overlap", "Overlap and contamination", "tether.audit.overlap:OverlapResult",
         "tether audit overlap --train {train} --eval {eval}",
         "Near-duplicates (MinHash + LSH, exact Jaccard) between training and evaluation data."),
    Kind("labels", "Label issues by generator", "tether.audit.labels:LabelIssuesResult",
         "tether audit labels --dataset {dataset}",
         "Confident learning on out-of-fold probabilities of a default student."),
    Kind("generator", "Generator audit", "tether.audit.generator:GeneratorAuditResult",
         "tether audit generator --gold {gold} --generated {generated}",
         "The generator's labels against real gold labels on the same inputs."),
    Kind("diversity", "Diversity per generation", "tether.audit.diversity:DiversityResult",
         "tether audit diversity --dataset {dataset}",
         "Distinct n-grams, compression, tail mass and spread, generation after generation."),
    Kind("faithfulness", "Faithfulness of derived samples",
         "tether.audit.faithfulness:FaithfulnessResult",
         "tether audit faithfulness --dataset {dataset}",
         "Does each perturbation or paraphrase keep its parent's meaning?"),
    Kind("style", "Style and objective: how synthetic answers are written",
         "tether.audit.style:StyleResult",
         "tether audit style --real {real} --synthetic {synthetic} --field {field}",
         "Length, hedging, politeness, refusals, formatting and openers, real against synthetic."),
    Kind("eval", "Evaluation: real suites first", "tether.evaluate.suites:EvalResult",
         "tether eval --predictions PREDICTIONS.jsonl --suites {holdout}",
         "Real suites are acceptance tests; synthetic suites are unit tests, reported apart."),
    Kind("estimate", "Prediction-powered estimates", "tether.evaluate.ppi:EstimateResult",
         "tether estimate --gold GOLD.jsonl --predicted PREDICTED.jsonl",
         "A small real gold set corrects model-made labels into valid intervals."),
    Kind("sweep", "Synthetic ratio sweep", "tether.evaluate.sweep:SweepResult",
         "tether sweep --real {real} --synthetic {synthetic} --holdout {holdout}",
         "A student trained at each synthetic share, measured on real held-out data."),
    Kind("sensitivity", "Sensitivity to the generator",
         "tether.evaluate.sensitivity:SensitivityResult",
         "tether sensitivity --gold {gold} --generated {generated} --holdout {holdout}",
         "How much real performance a better generator would buy."),
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


def kind_of(result: Result | type[Result]) -> Kind:
    """The kind whose result type ``result`` is (an instance or the class)."""
    cls = result if isinstance(result, type) else type(result)
    path = f"{cls.__module__}:{cls.__qualname__}"
    for k in KINDS:
        if k.result == path:
            return k
    raise NotFoundError(f"{cls.__qualname__} is not a registered result type; add it to "
                        "tether.results.KINDS")
