"""Jinja2 templates with slot lists: the ``rule`` family's way to write labelled samples.

A templates file is JSON (a list) or JSONL (one object a line); each template is an object with
``template`` (Jinja2 text) and ``label``. A slots file is a JSON object mapping each slot name to
a list of values. Templates render in a sandbox with strict undefined values, so a slot that the
slots file lacks is an error naming the file and the template, never an empty string.

Example:
    >>> gen = TemplateGenerator([{"template": "Shares in {{ firm }} fell", "label": "business"}],
    ...                         {"firm": ["Acme", "Initech"]})
    >>> [s["text"] for s in gen.generate([], seed=0)]
    ['Shares in Acme fell', 'Shares in Initech fell']
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from tether import io
from tether.errors import InputError
from tether.generate.base import Generator, row_rng


def sandbox() -> SandboxedEnvironment:
    """The Jinja2 environment every rule template renders in: sandboxed, strict, no escaping."""
    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                                keep_trailing_newline=False)


def compile_template(env: SandboxedEnvironment, source: str, *, path: str | None,
                     index: int) -> tuple[jinja2.Template, set[str]]:
    """Compile one template and return it with the names it uses; syntax errors name the file
    and the template index."""
    try:
        names = meta.find_undeclared_variables(env.parse(source))
        return env.from_string(source), names
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"template {index}: {exc.message} (template line {exc.lineno})",
                         path=path, row=index, field="template") from None


def load_templates(path: str | Path) -> list[dict[str, Any]]:
    """Read a templates file: a JSON list, or JSONL, of ``{"template": ..., "label": ...}``."""
    path = io.check_readable(path)
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    else:
        items = []
        for number, line in enumerate(text.splitlines(), 1):
            try:
                items += [json.loads(line)] if line.strip() else []
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON: {exc.msg}", path=path, line=number) from None
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("template"), str):
            raise InputError(f"template {i} must be an object with a 'template' string",
                             path=path, row=i, field="template")
    return items


def load_slots(path: str | Path) -> dict[str, list[Any]]:
    """Read a slots file: a JSON object mapping each slot name to a list of values."""
    path = io.check_readable(path)
    try:
        slots = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    if not isinstance(slots, dict):
        raise InputError("the slots file must be a JSON object: slot name → list of values",
                         path=path)
    for name, values in slots.items():
        if not isinstance(values, list) or not values:
            raise InputError("each slot must be a non-empty list of values", path=path, field=name)
    return slots


class TemplateGenerator(Generator):
    """Expand templates over their slot values: all combinations, or ``n`` drawn with the seed.

    Samples carry the template's label (``label_origin=synthetic``), no parents, and the user
    fields ``template`` (its index) and ``slots`` (the values used).

    Args:
        templates: ``[{"template": str, "label": str}, ...]`` (see :func:`load_templates`).
        slots: slot name → list of values (see :func:`load_slots`).
        n: how many samples to draw without replacement; ``None`` for every combination.
        templates_path, slots_path: the files they came from, named in error messages.
    """

    name, version, family = "template", "1", "rule"

    def __init__(self, templates: Sequence[Mapping[str, Any]], slots: Mapping[str, list[Any]],
                 n: int | None = None, *, templates_path: str | Path | None = None,
                 slots_path: str | Path | None = None) -> None:
        self.templates = [dict(t) for t in templates]
        self.slots = {k: list(v) for k, v in slots.items()}
        self.n = n
        path = self._path = str(templates_path) if templates_path is not None else None
        env = sandbox()
        self._compiled = []
        for i, item in enumerate(self.templates):
            template, names = compile_template(env, item["template"], path=path, index=i)
            missing = sorted(names - set(self.slots))
            if missing:
                where = f" in {slots_path}" if slots_path is not None else ""
                raise InputError(f"template {i} uses slot {missing[0]!r}, which has no values"
                                 f"{where}", path=path, row=i, field="template")
            self._compiled.append((template, sorted(names)))
        self._sizes = [math.prod(len(self.slots[s]) for s in names) for _, names in self._compiled]

    def config(self) -> dict[str, Any]:
        return {"templates": self.templates, "slots": self.slots, "n": self.n}

    @property
    def total(self) -> int:
        """How many distinct (template, slot values) combinations there are."""
        return sum(self._sizes)

    def _combination(self, index: int) -> tuple[int, dict[str, Any]]:
        """The ``index``-th combination overall, in template order then slot order."""
        for t, size in enumerate(self._sizes):
            if index < size:
                names = self._compiled[t][1]
                values = {}
                for name in reversed(names):
                    index, k = divmod(index, len(self.slots[name]))
                    values[name] = self.slots[name][k]
                return t, {name: values[name] for name in names}
            index -= size
        raise IndexError(index)

    def generate(self, seeds: list[dict[str, Any]], seed: int) -> Iterator[dict[str, Any]]:
        if self.n is None or self.n >= self.total:
            picks = iter(
                (t, dict(zip(names, combo)))
                for t, (_, names) in enumerate(self._compiled)
                for combo in itertools.product(*(self.slots[s] for s in names)))
        else:
            order = row_rng(seed, "templates").choice(self.total, self.n, replace=False)
            picks = (self._combination(int(i)) for i in sorted(order.tolist()))
        for t, values in picks:
            template = self._compiled[t][0]
            try:
                text = template.render(**values)
            except jinja2.TemplateError as exc:  # strict undefined values, sandbox refusals
                raise InputError(f"template {t}: {exc.message}", path=self._path, row=t,
                                 field="template") from None
            label = self.templates[t].get("label")
            yield {"text": text, "label": label,
                   "label_origin": "synthetic" if label is not None else None,
                   "template": t, "slots": values}
