"""Jinja2 templates with slot lists: the ``rule`` family's way to write labelled samples.

A templates file is JSON (a list) or JSONL (one object a line); each template is an object with
``template`` (Jinja2 text) and ``label``. A slots file is a JSON object mapping each slot name to
a list of values. Templates render in a sandbox with strict undefined values, so a slot that the
slots file lacks is an error naming the file and the template, never an empty string.

Templates are self-contained: ``{% include %}``, ``{% import %}`` and ``{% extends %}`` are refused
when the template is loaded. Output is bounded by the ingest cap on one record
(:data:`tether.io.MAX_RECORD_BYTES`): ``range`` is capped by the sandbox, ``*``, ``**``, ``%``,
``str.format`` and filters refuse to build anything larger, and a rendering that grows past the
cap is stopped; each of these is a recorded failure, never a stored sample.

Example:
    >>> gen = TemplateGenerator([{"template": "Shares in {{ firm }} fell", "label": "business"}],
    ...                         {"firm": ["Acme", "Initech"]})
    >>> [s["text"] for s in gen.generate([], seed=0)]
    ['Shares in Acme fell', 'Shares in Initech fell']
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from tether import io
from tether.errors import InputError
from tether.generate.base import Failure, Generator, row_rng

_BIG_NUMBER = re.compile(r"\d{8,}")
#: ``base ** exponent`` is refused above this many bits of result.
MAX_POWER_BITS = 1 << 16


class TooLarge(SecurityError):
    """A template tried to build a value or an output over the cap on one record."""


def _check_size(n: float, what: str) -> None:
    if n > io.MAX_RECORD_BYTES:
        raise TooLarge(f"{what} would be {n:.3g} long, over the {io.MAX_RECORD_BYTES // 2**20} MB "
                       f"cap on one record")


def _check_args(args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    # a width, count or length argument (center(10**9), zfill, indent...) bounds what is built
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool):
            _check_size(abs(value), "a size argument")


def _check_format(fmt: Any) -> None:
    if isinstance(fmt, str):
        for digits in _BIG_NUMBER.findall(fmt):
            _check_size(int(digits), "a format width")


def _bounded_filter(func: Any) -> Any:
    @functools.wraps(func)  # keeps jinja's pass_context/pass_environment markers
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_args(args[1:], kwargs)
        return func(*args, **kwargs)
    return bounded


class BoundedSandbox(SandboxedEnvironment):
    """A sandbox whose operators, calls and filters cannot build more than the cap on one record.

    >>> env = BoundedSandbox()
    >>> env.from_string("{{ 'ab' * 2 }}").render()
    'abab'
    >>> env.from_string("{{ 'A' * 200000000 }}").render()
    Traceback (most recent call last):
    ...
    tether.generate.templates.TooLarge: 'A' * 200000000 would be 2e+08 long, over the 16 MB cap on one record
    """

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(f) for name, f in self.filters.items()}

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                    _check_size(len(seq) * times, f"{seq!r:.20} * {times}")
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) \
                and abs(left) > 1 and right > 0 \
                and right * math.log2(abs(left)) > MAX_POWER_BITS:
            raise TooLarge(f"{left} ** {right} has over {MAX_POWER_BITS} bits")
        elif operator == "%":
            _check_format(left)
        return super().call_binop(context, operator, left, right)

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _check_args(args, kwargs)
        target = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
        if getattr(target, "__name__", None) in ("format", "format_map"):
            _check_format(getattr(target, "__self__", None))
        return super().call(context, obj, *args, **kwargs)


def sandbox() -> SandboxedEnvironment:
    """The Jinja2 environment every template renders in: sandboxed, bounded, strict, no
    escaping."""
    return BoundedSandbox(undefined=jinja2.StrictUndefined, autoescape=False,
                          keep_trailing_newline=False)


def parse_self_contained(env: SandboxedEnvironment, source: str) -> jinja2.nodes.Template:
    """The syntax tree of ``source``; raises :class:`jinja2.TemplateSyntaxError`, or
    :class:`~tether.errors.InputError` when it includes, imports or extends another file.

    >>> parse_self_contained(sandbox(), "{% include 'x.txt' %}")
    Traceback (most recent call last):
    ...
    tether.errors.InputError: templates cannot include other files ({% include %}, {% import %} and {% extends %} are refused); put the text in the template itself
    """
    tree = env.parse(source)
    if next(meta.find_referenced_templates(tree), False) is not False:
        raise InputError("templates cannot include other files ({% include %}, {% import %} and "
                         "{% extends %} are refused); put the text in the template itself")
    return tree


def render_bounded(template: jinja2.Template, values: Mapping[str, Any]) -> str:
    """``template`` rendered with ``values``, stopped with :class:`TooLarge` as soon as the output
    passes the cap on one record."""
    parts, size = [], 0
    for part in template.generate(**values):
        size += len(part)
        _check_size(size, "the rendered text")
        parts.append(part)
    return "".join(parts)


def compile_template(env: SandboxedEnvironment, source: str, *, path: str | None,
                     index: int) -> tuple[jinja2.Template, set[str]]:
    """Compile one template and return it with the names it uses; syntax errors and includes
    name the file and the template index."""
    try:
        tree = parse_self_contained(env, source)
        return env.from_string(tree), meta.find_undeclared_variables(tree)
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"template {index}: {exc.message} (template line {exc.lineno})",
                         path=path, row=index, field="template") from None
    except InputError as exc:
        raise InputError(f"template {index}: {exc.message}", path=path, row=index,
                         field="template") from None


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

    def generate(self, seeds: list[dict[str, Any]],
                 seed: int) -> Iterator[dict[str, Any] | Failure]:
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
                text = render_bounded(template, values)
            except (TooLarge, OverflowError) as exc:  # over the size cap, range() over MAX_RANGE
                yield Failure([], f"template {t}: {exc}; slots {values!r:.200}")
                continue
            except jinja2.TemplateError as exc:  # strict undefined values, sandbox refusals
                raise InputError(f"template {t}: {exc.message}", path=self._path, row=t,
                                 field="template") from None
            label = self.templates[t].get("label")
            yield {"text": text, "label": label,
                   "label_origin": "synthetic" if label is not None else None,
                   "template": t, "slots": values}
