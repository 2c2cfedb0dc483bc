"""``tether.toml``: column mappings and per-dataset defaults, written once instead of on every
command.

Two sections are read here::

    [columns]                  # defaults for every dataset
    text_field = "body"
    label_field = "topic"

    [datasets.qa]              # one dataset (its DatasetDict splits too): the keys of
    fields = ["question", "context", "answer"]   # [columns], and origin, label_origin,
    label_range = [1, 5]                         # family, generator, label_range
    origin = "real"

The same file holds the policy (:mod:`tether.policy`): its keys, and ``max_synthetic_share``
in ``[datasets.NAME]``, are the policy's and ignored here. A command-line option always wins over
the file; ``[datasets.NAME]`` wins over ``[columns]``.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.errors import InputError
from tether.provenance import FAMILIES, LABEL_ORIGINS, ORIGINS, check_generator

CONFIG_FILE = "tether.toml"


def _name(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _names(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(map(_name, value))


def _one_of(values: tuple[str, ...]) -> Any:
    return lambda value: value in values


def _generator(value: Any) -> bool:
    try:
        return isinstance(value, str) and check_generator(value) == value
    except ValueError:
        return False


def _bounds(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in value) and value[0] <= value[1])


#: Keys of ``[columns]``: (check, what the check expects).
COLUMN_KEYS = {"text_field": (_name, "a field name"), "label_field": (_name, "a field name"),
               "id_field": (_name, "a field name"),
               "fields": (_names, "a list of field names")}
#: Keys of ``[datasets.NAME]``.
DATASET_KEYS = {**COLUMN_KEYS, "origin": (_one_of(ORIGINS), " or ".join(ORIGINS)),
                "label_origin": (_one_of(LABEL_ORIGINS), " or ".join(LABEL_ORIGINS)),
                "family": (_one_of(FAMILIES), "one of " + ", ".join(FAMILIES)),
                "generator": (_generator, "NAME@VERSION"),
                "label_range": (_bounds, "[lo, hi], two finite numbers lo <= hi")}
#: Keys of ``[datasets.NAME]`` that :mod:`tether.policy` reads.
POLICY_DATASET_KEYS = ("max_synthetic_share",)


@dataclass(frozen=True)
class Config:
    """The column mappings and dataset defaults of one ``tether.toml`` (empty when none).

    Example:
        >>> c = parse_config('[columns]\\ntext_field = "body"\\n[datasets.qa]\\norigin = "real"')
        >>> c.defaults("qa"), c.defaults("other")
        ({'text_field': 'body', 'origin': 'real'}, {'text_field': 'body'})
    """

    path: str | None = None
    columns: Mapping[str, Any] = field(default_factory=dict)
    datasets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def defaults(self, dataset: str | None) -> dict[str, Any]:
        """The defaults for ``dataset``: ``[columns]``, overridden by ``[datasets.NAME]``."""
        return {**self.columns, **self.datasets.get(dataset or "", {})}


_TOML_PART = r"""(?:"[^"]*"|'[^']*'|[A-Za-z0-9_*?\-]+)"""
_TOML_KEY = rf"{_TOML_PART}(?:\s*\.\s*{_TOML_PART})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_TOML_KEY})\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"^\s*({_TOML_KEY})\s*=")


def _dotted(key: str) -> str:
    return ".".join(p.strip("\"'") for p in re.findall(_TOML_PART, key))


def toml_lines(text: str) -> dict[str, int]:
    r"""The line (1-based) of every key and table of TOML text, by dotted key (what
    :attr:`tether.policy.RuleResult.key` uses and config errors point at): ``max_synthetic_share``, ``datasets.train`` and
    ``datasets.train.max_synthetic_share``, ``mirage[0]`` for the first ``[[mirage]]`` table.

    >>> toml_lines('max_synthetic_share = 0.5\n\n[datasets."train*"]\nmax_synthetic_share = 0.3\n'
    ...            '[[mirage]]\nreal = "a"\n[[mirage]]\nreal = "b"\n')["mirage[1]"]
    7
    >>> toml_lines('[datasets."train*"]\nmax_synthetic_share = 0.3\n')[
    ...     "datasets.train*.max_synthetic_share"]
    2
    """
    lines: dict[str, int] = {}
    table, arrays = "", {}
    for n, line in enumerate(text.splitlines(), 1):
        if header := _HEADER.match(line):
            table = _dotted(header.group(2))
            if header.group(1) == "[[":
                arrays[table] = arrays.get(table, -1) + 1
                table = f"{table}[{arrays[table]}]"
            lines.setdefault(table, n)
        elif assign := _ASSIGN.match(line):
            key = _dotted(assign.group(1))
            lines.setdefault(f"{table}.{key}" if table else key, n)
    return lines


def _check(table: Mapping[str, Any], known: Mapping[str, Any], where: str,
           lines: Mapping[str, int], source: str,
           ignored: tuple[str, ...] = ()) -> dict[str, Any]:
    out = {}
    for key, value in table.items():
        if key in ignored:
            continue
        if key not in known:
            raise InputError(f"unknown key {key!r} in [{where}]; known keys: "
                             f"{', '.join(known)}", path=source, line=lines.get(f"{where}.{key}"),
                             field=key)
        check, expected = known[key]
        if not check(value):
            raise InputError(f"[{where}] {key} must be {expected}, got {value!r}", path=source,
                             line=lines.get(f"{where}.{key}"), field=key)
        out[key] = value
    return out


def parse_config(text: str, source: str = CONFIG_FILE) -> Config:
    """Parse the ``[columns]`` and ``[datasets.NAME]`` sections of ``tether.toml`` text; an
    unknown key or a value of the wrong type is an :class:`InputError` naming ``source``, the
    line and the key. Other sections (the policy) are left to :mod:`tether.policy`.

    >>> parse_config('[columns]\\ntext = "body"')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tether.errors.InputError: tether.toml, line 2, field text: unknown key 'text' in [columns]; ...
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=source) from None
    columns = raw.get("columns", {})
    if not isinstance(columns, dict):
        raise InputError("expected a table [columns]", path=source, field="columns")
    tables = raw.get("datasets", {})
    if not isinstance(tables, dict):
        raise InputError("expected tables [datasets.NAME]", path=source, field="datasets")
    datasets, lines = {}, toml_lines(text)
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise InputError(f"expected a table [datasets.{name}]", path=source,
                             field=f"datasets.{name}")
        datasets[name] = _check(table, DATASET_KEYS, f"datasets.{name}", lines, source,
                                POLICY_DATASET_KEYS)
    return Config(source, _check(columns, COLUMN_KEYS, "columns", lines, source), datasets)


def find_config(store: str | Path | None = None) -> Path | None:
    """The ``tether.toml`` in effect: the one in the current directory, else the one beside
    the store file ``store`` (the default store is in the current directory); None when
    there is neither.

    Example:
        >>> find_config("project/tether.duckdb")  # doctest: +SKIP
        PosixPath('project/tether.toml')
    """
    here = Path(CONFIG_FILE)
    if here.is_file():
        return here
    if store is not None and str(store) != ":memory:":
        beside = Path(store).parent / CONFIG_FILE
        if beside.is_file():
            return beside
    return None


def load_config(path: str | Path | None = None, *, store: str | Path | None = None) -> Config:
    """The configuration in ``path``, or in the file :func:`find_config` finds for ``store``;
    an empty :class:`Config` when there is none.

    Example:
        >>> load_config(store=":memory:").defaults("news")  # doctest: +SKIP
        {'text_field': 'body'}
    """
    found = Path(path) if path is not None else find_config(store)
    if found is None:
        return Config()
    try:
        text = found.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the configuration: {exc.strerror}", path=found) from None
    return parse_config(text, str(found))
