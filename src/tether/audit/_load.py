"""Load one side of an audit (ids, texts, labels, user fields) from the store.

The text an audit measures is any field of the user's records: ``text`` (the default), ``label``
or a field kept among the user's other fields (``prompt``, ``response``, ``question`` ...). A
``messages`` field in the OpenAI chat format (a list of ``{role, content}``, roles ``system``,
``user``, ``assistant``, ``tool``) is read as the contents of the chosen ``turns`` (``user``,
``assistant`` or ``all``), joined by blank lines.

Example:
    >>> from tether import Store
    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("d", [{"id": "a", "text": "hi", "response": "hello"}], origin="real")
    ...     load_side(s, "d").texts, load_side(s, "d", field="response").texts
    (['hi'], ['hello'])
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from tether.errors import InputError, NotFoundError
from tether.results import decode_fields
from tether.stats import Interval
from tether.store import Store

TURNS = ("user", "assistant", "all")
ROLES = ("system", "user", "assistant", "tool")
_TOP_LEVEL = ("text", "label")


@dataclass(frozen=True)
class Side:
    """The samples of one side: parallel lists of ids, texts (of ``field``), labels, user
    fields, parents."""

    name: str
    ids: list[str]
    texts: list[str | None]
    labels: list[str | None]
    fields: list[dict[str, Any]]
    parents: list[list[str]]
    field: str = "text"

    @property
    def has_text(self) -> bool:
        return any(t is not None for t in self.texts)

    @cached_property
    def numeric(self) -> dict[str, np.ndarray]:
        """User fields that are numbers in every sample, as float arrays."""
        keys = set.intersection(*(set(f) for f in self.fields)) if self.fields else set()
        return {k: np.array([f[k] for f in self.fields], dtype=float) for k in sorted(keys)
                if all(isinstance(f[k], (int, float)) and not isinstance(f[k], bool)
                       for f in self.fields)}


def field_name(field: str = "text", turns: str | None = None) -> str:
    """How a result names what it measured: ``response``, or ``messages[assistant]``.

    >>> field_name("messages", "assistant"), field_name()
    ('messages[assistant]', 'text')
    """
    return f"{field}[{turns}]" if turns else field


def field_params(field: str = "text", turns: str | None = None) -> dict[str, Any]:
    """The field choice for an audit's saved parameters: nothing for the default ``text``, so
    that an audit of ``text`` is saved exactly as before fields existed.

    >>> field_params(), field_params("messages", "user")
    ({}, {'field': 'messages', 'turns': 'user'})
    """
    return {} if field == "text" and turns is None else {"field": field, "turns": turns}


def _messages_text(value: Any, turns: str, where: str) -> str | None:
    """The contents of the ``turns`` of one OpenAI-format conversation (None when none)."""
    if not isinstance(value, list):
        raise InputError(f"{where}: messages must be a list of {{role, content}}, got "
                         f"{type(value).__name__}")
    parts = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or "role" not in turn:
            raise InputError(f"{where}: turn {i} is not a {{role, content}} object")
        if turn["role"] not in ROLES:
            raise InputError(f"{where}: turn {i} has unknown role {turn['role']!r}; roles are "
                             f"{', '.join(ROLES)}")
        if turns != "all" and turn["role"] != turns:
            continue
        content = turn.get("content")
        if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
            content = "\n".join(p["text"] for p in content
                                if isinstance(p, dict) and isinstance(p.get("text"), str))
        elif content is not None and not isinstance(content, str):
            raise InputError(f"{where}: turn {i} content is {type(content).__name__}, "
                             "expected text")
        if content:
            parts.append(content)
    return "\n\n".join(parts) if parts else None


def _is_messages(values: list[Any]) -> bool:
    first = next((v for v in values if v is not None), None)
    return isinstance(first, list) and bool(first) and isinstance(first[0], dict) \
        and "role" in first[0]


def field_texts(table: pa.Table, field: str = "text", turns: str | None = None, *,
                dataset: str = "the data") -> list[str | None]:
    """The text of ``field`` in every row of a store table (``text``, ``label`` and ``fields``
    columns, as :meth:`Store.table` returns); None where a row lacks it.

    Raises :class:`NotFoundError` when no row has the field, :class:`InputError` for a value
    that is not text (or not a conversation when ``turns`` is given).

    >>> t = pa.table({"id": ["a"], "text": [None], "label": [None],
    ...               "fields": ['{"messages": [{"role": "user", "content": "hi"},'
    ...                          ' {"role": "assistant", "content": "hello"}]}']})
    >>> field_texts(t, "messages", "assistant"), field_texts(t, "messages")
    (['hello'], ['hi\\n\\nhello'])
    """
    if turns is not None and turns not in TURNS:
        raise InputError(f"turns must be one of {', '.join(TURNS)}, got {turns!r}",
                         field="turns")
    if field in _TOP_LEVEL:
        values = table.column(field).to_pylist()
    else:
        fields = [json.loads(f) if f else {} for f in table.column("fields").to_pylist()]
        values = [f.get(field) for f in fields]
    if all(v is None for v in values):
        keys = [k for k in _TOP_LEVEL if table.column(k).null_count < table.num_rows]
        if "fields" in table.schema.names:
            keys += sorted({k for f in table.column("fields").to_pylist() if f
                            for k in json.loads(f)})
        raise NotFoundError(f"dataset {dataset!r} has no field {field!r}; its fields are: "
                            f"{', '.join(keys) or '(none)'}; choose one with --field")
    ids = [str(i) for i in table.column("id").to_pylist()] if "id" in table.schema.names \
        else [str(i) for i in range(table.num_rows)]
    if _is_messages(values):
        return [None if v is None else
                _messages_text(v, turns or "all", f"dataset {dataset!r}, sample {ids[i]!r}, "
                                                  f"field {field!r}")
                for i, v in enumerate(values)]
    if turns is not None:
        raise InputError(f"field {field!r} of dataset {dataset!r} is not a conversation "
                         "(messages); --turns applies only to messages", field=field)
    out: list[str | None] = []
    for i, v in enumerate(values):
        if v is not None and not isinstance(v, str):
            if isinstance(v, (dict, list)):
                raise InputError(f"dataset {dataset!r}, sample {ids[i]!r}: field {field!r} is "
                                 f"a {type(v).__name__}, not text", field=field)
            v = str(v)
        out.append(v)
    return out


def stored_field(store: Store, dataset: str, field: str) -> str:
    """The column the store keeps the user's ``field`` in: ``text`` or ``label`` when the
    dataset was ingested with ``--text-field``/``--label-field`` naming it (``question``,
    ``answer``), else ``field`` itself.

    >>> with Store(":memory:") as s:
    ...     _ = s.ingest("qa", [{"question": "Why?", "answer": "So."}], origin="real",
    ...                  label_origin="real", text_field="question", label_field="answer")
    ...     stored_field(s, "qa", "answer"), stored_field(s, "qa", "context")
    ('label', 'context')
    """
    if field in _TOP_LEVEL or not store.has_dataset(dataset):
        return field
    return next((stored for stored, user in store.field_names(dataset).items()
                 if user == field and stored in _TOP_LEVEL), field)


def field_table(store: Store, dataset: str, field: str = "text", turns: str | None = None,
                **filters: Any) -> pa.Table:
    """:meth:`Store.table` of ``dataset`` (with its ``filters``) with its ``text`` column
    replaced by the text of ``field`` (see :func:`field_texts`), for the audits that read
    Arrow tables."""
    table = store.table(dataset, **filters)
    field = stored_field(store, dataset, field)
    if field == "text" and turns is None:
        return table
    texts = field_texts(table, field, turns, dataset=dataset) if table.num_rows else []
    return table.set_column(table.schema.get_field_index("text"), "text",
                            pa.array(texts, type=pa.string()))


def load_side(store: Store, dataset: str, origin: str | None = None, *, field: str = "text",
              turns: str | None = None) -> Side:
    """Samples of ``dataset`` (only those of ``origin`` when given), in insertion order, with
    the text of ``field`` (``turns`` of a ``messages`` field)."""
    table = store.table(dataset, origin=origin)
    if table.num_rows == 0:
        raise InputError(f"dataset {dataset!r} has no {origin + ' ' if origin else ''}samples")
    stored = stored_field(store, dataset, field)
    texts = (table.column("text").to_pylist() if stored == "text" and turns is None
             else field_texts(table, stored, turns, dataset=dataset))
    return Side(dataset, [str(i) for i in table.column("id").to_pylist()], texts,
                table.column("label").to_pylist(),
                [json.loads(f) if f else {} for f in table.column("fields").to_pylist()],
                [list(p or []) for p in table.column("parents").to_pylist()],
                field_name(field, turns))


def load_pair(store: Store, real: str, synthetic: str, *, field: str = "text",
              turns: str | None = None) -> tuple[Side, Side]:
    """The real and the synthetic side: two datasets as they are, or one dataset split by
    ``origin`` when both names are the same."""
    if real == synthetic:
        return (load_side(store, real, "real", field=field, turns=turns),
                load_side(store, synthetic, "synthetic", field=field, turns=turns))
    return (load_side(store, real, field=field, turns=turns),
            load_side(store, synthetic, field=field, turns=turns))


def plain(value: Any) -> Any:
    """The JSON form of a result: a dataclass as the dict of its fields, nested values by their
    own ``to_dict()`` (an :class:`~tether.stats.Interval` as ``[lo, hi]``) or else the same way,
    tuples as lists (what an audit's ``to_dict`` gives; :func:`dataclasses.asdict` would spell an
    interval out as a dict).

    >>> plain({"ci": Interval(0.1, float("nan")), "n": (1, 2)})
    {'ci': [0.1, None], 'n': [1, 2]}
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return _plain(value)


def _plain(value: Any) -> Any:
    if hasattr(value, "to_dict") and not isinstance(value, type):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def made_by(method: str, level: float = 0.95) -> dict[str, Any]:
    """The metadata of a dataclass field holding an :class:`~tether.stats.Interval` made by
    ``method`` at ``level`` (``field(metadata=made_by("wilson"))``): its JSON keeps only the
    bounds, :func:`from_json` restores the rest."""
    return {"interval": (level, method)}


def from_json(cls: type[Any], data: Any) -> Any:
    """The dataclass ``cls`` from its JSON form (:func:`tether.results.decode_fields`), each
    interval field marked :func:`made_by` with its level and method (a result's ``from_dict``).

    >>> @dataclass(frozen=True)
    ... class Share:
    ...     ci: Interval = dataclasses.field(metadata=made_by("wilson"))
    >>> from_json(Share, {"ci": [0.1, None]}).ci
    Interval(lo=0.1, hi=nan, level=0.95, method='wilson')
    """
    restored = {f.name: Interval.from_dict(data[f.name], *f.metadata["interval"])
                for f in dataclasses.fields(cls)
                if "interval" in f.metadata and data.get(f.name) is not None}
    return decode_fields(cls, {**data, **restored})
