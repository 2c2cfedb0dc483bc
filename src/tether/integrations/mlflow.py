"""Log tether results and reports to MLflow (``pip install 'tether[mlflow]'``).

:func:`log` takes any result with ``to_dict()`` (or its dict): every numeric leaf becomes a
metric named by its path (``accuracy.estimate``), every interval ``[lo, hi]`` two metrics
(``accuracy.lo``, ``accuracy.hi`` for a ``ci`` key, ``auc_ci.lo``/``auc_ci.hi`` otherwise), every
short text or boolean leaf a parameter, and the whole JSON an artifact. Items of a list named by a
``key`` or ``name`` go under that name; other lists (per-item tables) stay in the JSON artifact.
:func:`log_report` logs the HTML report and its JSON twin as artifacts, with each section's
numbers as metrics (and its parameters and status as parameters) under the section's key.

The tracking store is MLflow's own configuration (``MLFLOW_TRACKING_URI`` or
``mlflow.set_tracking_uri``). Without ``run``, results go to the active run, or to a new run that
is ended once logged.

Example:
    >>> flatten({"accuracy": {"estimate": 0.8, "ci": [0.7, 0.9]}, "method": "wilson", "n": 40})
    ({'accuracy.estimate': 0.8, 'accuracy.lo': 0.7, 'accuracy.hi': 0.9, 'n': 40.0}, {'method': 'wilson'})
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tether.errors import InputError, NotFoundError

_MAX_PARAM = 500  # longer text is left to the JSON artifact
_BATCH = 100  # MLflow accepts at most 100 parameters (1000 metrics) per log_batch call


@dataclass(frozen=True)
class Logged:
    """What one call logged to MLflow: the run, how many metrics and parameters, the artifacts."""

    run_id: str
    metrics: int
    params: int
    artifacts: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _name(parts: list[str]) -> str:
    # MLflow names allow letters, digits, _ - . / and spaces
    return re.sub(r"[^\w\-./ ]", "_", ".".join(p or "none" for p in parts))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _is_interval(key: str, value: Any) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == 2
            and all(v is None or _number(v) is not None for v in value)
            and (key == "ci" or key.endswith(("_ci", "interval"))))


def flatten(data: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    """``(metrics, params)`` from a result's JSON form, as :func:`log` logs them."""
    metrics: dict[str, float] = {}
    params: dict[str, str] = {}

    def walk(value: Any, parts: list[str]) -> None:
        key = parts[-1] if parts else ""
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, [*parts, str(k)])
        elif _is_interval(key, value):
            base = parts[:-1] if key == "ci" else parts
            for bound, v in zip(("lo", "hi"), value):
                if _number(v) is not None:
                    metrics[_name([*base, bound])] = float(v)
        elif isinstance(value, list):
            # a list of sections or named items: each under its key; other lists stay in the JSON
            named = [v for v in value if isinstance(v, Mapping)
                     and isinstance(v.get("key", v.get("name")), str)]
            if named and len(named) == len(value):
                for item in named:
                    walk({k: v for k, v in item.items() if k not in ("key", "name")},
                         [*parts, item.get("key", item.get("name"))])
        elif isinstance(value, (bool, str)):
            text = str(value)
            if parts and len(text) <= _MAX_PARAM:
                params[_name(parts)] = text
        elif _number(value) is not None and parts:
            metrics[_name(parts)] = float(value)

    walk(dict(data), [])
    return metrics, params


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise NotFoundError("mlflow is not installed; pip install 'tether[mlflow]'") from None
    return mlflow


@contextmanager
def _run(run: Any) -> Iterator[str]:
    """The run id to log to: ``run`` (a run or its id), the active run, or a new run."""
    mlflow = _mlflow()
    if run is not None:
        yield run if isinstance(run, str) else run.info.run_id
        return
    active = mlflow.active_run()
    if active is not None:
        yield active.info.run_id
        return
    with mlflow.start_run() as started:
        yield started.info.run_id


def _log_values(client: Any, run_id: str, metrics: Mapping[str, float],
                params: Mapping[str, str]) -> None:
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    items = [Metric(k, v, now, 0) for k, v in metrics.items()]
    for i in range(0, len(items), 1000):
        client.log_batch(run_id, metrics=items[i:i + 1000])
    pairs = [Param(k, v) for k, v in params.items()]
    for i in range(0, len(pairs), _BATCH):
        client.log_batch(run_id, params=pairs[i:i + _BATCH])


def _artifact_name(result: Any) -> str:
    name = type(result).__name__ if not isinstance(result, Mapping) else "result"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def log(result: Any, run: Any = None, *, name: str | None = None) -> Logged:
    """Log ``result`` (anything with ``to_dict()``, or a dict) to MLflow: numbers as metrics,
    intervals as ``.lo``/``.hi`` metrics, short text as parameters, the JSON as the artifact
    ``tether/<name>.json`` (``name`` defaults to the result's type, ``mirage_result``).

    ``run`` is an MLflow run or run id; by default the active run, or a new one.

    Example:
        >>> import mlflow  # doctest: +SKIP
        >>> log(evaluate_result).metrics  # doctest: +SKIP
        6
    """
    data = result.to_dict() if hasattr(result, "to_dict") else result
    if not isinstance(data, Mapping):
        raise InputError(f"cannot log a {type(result).__name__}: give a result with to_dict() "
                         "or a dict")
    metrics, params = flatten(data)
    artifact = f"tether/{name or _artifact_name(result)}.json"
    client = _mlflow().tracking.MlflowClient()
    with _run(run) as run_id:
        _log_values(client, run_id, metrics, params)
        client.log_dict(run_id, json.loads(json.dumps(data, default=str)), artifact)
    return Logged(run_id, len(metrics), len(params), [artifact])


def log_report(path: str | Path, json_path: str | Path | None = None, run: Any = None) -> Logged:
    """Log the HTML report at ``path`` and its JSON twin (``json_path``, else the ``.json``
    beside it) as artifacts under ``tether/``, and the twin's numbers as metrics named
    ``<section>.<path>`` (``mirage.c2st_auc``).

    Example:
        >>> log_report("report.html", "report.json").artifacts  # doctest: +SKIP
        ['tether/report.html', 'tether/report.json']
    """
    html = Path(path)
    twin = Path(json_path) if json_path is not None else html.with_suffix(".json")
    for p in (html, twin):
        if not p.is_file():
            raise NotFoundError(f"no such file: {p}" + ("; write the JSON twin with "
                                                        "--json-out" if p == twin else ""))
    data = json.loads(twin.read_text(encoding="utf-8"))
    metrics, params = {}, {}
    for section in data.get("sections", []):
        found, given = flatten({section["key"]: {**(section.get("params") or {}),
                                                 **(section.get("data") or {})}})
        metrics |= found
        params |= given | {f"{section['key']}.status": section["status"]}
    client = _mlflow().tracking.MlflowClient()
    with _run(run) as run_id:
        _log_values(client, run_id, metrics, params)
        for p in (html, twin):
            client.log_artifact(run_id, str(p), "tether")
    return Logged(run_id, len(metrics), len(params), [f"tether/{html.name}", f"tether/{twin.name}"])
