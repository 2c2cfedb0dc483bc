"""Charts for the report, drawn with matplotlib and returned as inline SVG strings.

Every chart is a real plot (axes, labels, intervals as bands or error bars) rendered with the
``Agg`` backend; text stays text (``svg.fonttype = "none"``, fonts named, never fetched), the
XML prologue and the metadata block (which name URLs as RDF namespaces) are removed, and element
ids are salted with the chart's key so that many charts can share one HTML page. Each function
closes its figure.

Example:
    >>> svg = bar_chart({"real": 200, "synthetic": 50}, title="origin", key="ex")
    >>> svg.startswith("<svg") and "<metadata>" not in svg
    True
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.patches
import matplotlib.pyplot as plt
import matplotlib.ticker
import matplotlib.transforms
import numpy as np

#: Colours used everywhere: real data is blue, synthetic data orange; a muted grey for context.
REAL = "#2563eb"
SYNTHETIC = "#ea580c"
NEUTRAL = "#64748b"
GOOD = "#16a34a"
BAD = "#dc2626"
PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#ca8a04", "#db2777",
           "#475569", "#65a30d", "#7c3aed")

_STYLE = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial"],
    "font.size": 9.5,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9.5,
    "axes.labelcolor": "#334155",
    "axes.edgecolor": "#94a3b8",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e2e8f0",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "xtick.color": "#475569",
    "ytick.color": "#475569",
    "legend.frameon": False,
    "legend.fontsize": 9,
    "figure.dpi": 100,
}
_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_ID_REF = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')
_SIZE = re.compile(r'<svg([^>]*?) width="([\d.]+)pt" height="([\d.]+)pt"')


def _svg(fig: plt.Figure, key: str) -> str:
    """Render ``fig`` to an SVG string fit for inlining, then close it."""
    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": f"tether-{key}"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = _METADATA.sub("", _PROLOGUE.sub("", buf.getvalue(), count=1), count=1)
    # matplotlib names groups figure_1, axes_1, ... in every figure: prefix every id and every
    # reference to one with the chart's key, so that ids stay unique on a page of many charts
    text = _ID_REF.sub(lambda m: f'{m.group(1)}{key}-{m.group(2)}', text)
    return _SIZE.sub(lambda m: f'<svg{m.group(1)} width="{m.group(2)}pt" height="{m.group(3)}pt" '
                               f'role="img" class="chart"', text, count=1).strip()


def _figure(width: float, height: float) -> tuple[plt.Figure, plt.Axes]:
    return plt.subplots(figsize=(width, height))


def _styled(func):
    """Run a chart function (figure creation and rendering) with the report's style."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with plt.rc_context(_STYLE):
            return func(*args, **kwargs)
    return wrapper


def _short(label: object, limit: int = 28) -> str:
    text = "(none)" if label in (None, "") else str(label).replace("$", r"\$")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@_styled
def bar_chart(counts: Mapping[str, float], *, title: str, key: str, xlabel: str = "samples",
              colors: Mapping[str, str] | None = None, percent: bool = False,
              decimals: int = 0) -> str:
    """Horizontal bars of ``counts`` (largest first keeps the caller's order), values printed.

    >>> "<svg" in bar_chart({"a": 3, "b": 1}, title="t", key="doc-bar")
    True
    """
    labels = [_short(k) for k in counts]
    values = np.asarray(list(counts.values()), dtype=float)
    fig, ax = _figure(5.2, 0.5 + 0.32 * max(len(labels), 2))
    cols = [(colors or {}).get(str(k), PALETTE[0]) for k in counts]
    y = np.arange(len(labels))
    ax.barh(y, values, color=cols, height=0.62)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    top = float(np.abs(values).max()) if values.size else 1.0
    low = min(float(values.min()) * 1.18, 0.0) if values.size else 0.0
    ax.set_xlim(low, top * 1.18 if top > 0 else 1)
    for yi, v in zip(y, values):
        ax.text(max(v, 0) + top * 0.01, yi, f"{v:.1%}" if percent else f"{v:,.{decimals}f}",
                va="center", fontsize=8.5, color="#334155")
    return _svg(fig, key)


@_styled
def stacked_bars(rows: Mapping[str, Mapping[str, float]], *, title: str, key: str,
                 xlabel: str = "samples", colors: Mapping[str, str] | None = None,
                 width: float = 7.5) -> str:
    """Horizontal stacked bars: one bar per row, one segment per part (e.g. real/synthetic).

    >>> "<svg" in stacked_bars({"d": {"real": 3, "synthetic": 1}}, title="t", key="doc-stack")
    True
    """
    names = list(rows)
    parts = list(dict.fromkeys(p for r in rows.values() for p in r))
    fig, ax = _figure(width, 0.7 + 0.34 * max(len(names), 2))
    y = np.arange(len(names))
    left = np.zeros(len(names))
    for i, part in enumerate(parts):
        vals = np.asarray([float(rows[n].get(part, 0)) for n in names])
        color = (colors or {}).get(part, PALETTE[i % len(PALETTE)])
        ax.barh(y, vals, left=left, height=0.62, label=_short(part), color=color)
        left += vals
    ax.set_yticks(y, [_short(n) for n in names])
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _svg(fig, key)


@_styled
def grouped_bars(groups: Sequence[str], series: Mapping[str, Sequence[float]], *, title: str,
                 key: str, ylabel: str, colors: Mapping[str, str] | None = None,
                 percent: bool = False) -> str:
    """Vertical grouped bars: for each group (e.g. a label), one bar per series.

    >>> "<svg" in grouped_bars(["a", "b"], {"real": [0.5, 0.5]}, title="t", key="d", ylabel="y")
    True
    """
    fig, ax = _figure(max(4.2, 0.9 + 0.75 * len(groups)), 2.9)
    x = np.arange(len(groups))
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        color = (colors or {}).get(name, PALETTE[i % len(PALETTE)])
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width * 0.92, label=name,
               color=color)
    crowded = len(groups) * max((len(str(g)) for g in groups), default=0) > 36
    ax.set_xticks(x, [_short(g, 16) for g in groups], rotation=30 if crowded else 0,
                  ha="right" if crowded else "center")
    ax.grid(axis="x", visible=False)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if percent:
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _svg(fig, key)


@_styled
def heatmap(matrix: Sequence[Sequence[float]], rows: Sequence[str], cols: Sequence[str], *,
            title: str, key: str, xlabel: str, ylabel: str) -> str:
    """A confusion matrix as an annotated heat map (colour = share of the row; text = count).

    >>> "<svg" in heatmap([[5, 1], [0, 4]], ["a", "b"], ["a", "b"], title="t", key="doc-heat",
    ...                   xlabel="generator", ylabel="gold")
    True
    """
    m = np.asarray(matrix, dtype=float)
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    size = 1.6 + 0.62 * max(len(cols), 2)
    fig, ax = _figure(size + 1.0, 1.2 + 0.55 * max(len(rows), 2))
    # vector cells (pcolormesh), not a raster image: crisp at any zoom, no embedded bitmap
    image = ax.pcolormesh(np.arange(m.shape[1] + 1) - 0.5, np.arange(m.shape[0] + 1) - 0.5,
                          share, cmap="Blues", vmin=0, vmax=1, edgecolors="white", linewidth=1)
    ax.invert_yaxis()
    ax.grid(False)
    ax.set_xticks(np.arange(len(cols)), [_short(c, 14) for c in cols], rotation=30, ha="right")
    ax.set_yticks(np.arange(len(rows)), [_short(r, 14) for r in rows])
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{m[i, j]:,.0f}", ha="center", va="center", fontsize=8.5,
                    color="white" if share[i, j] > 0.55 else "#0f172a")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    bar.set_label("share of row")
    bar.solids.set_rasterized(False)
    return _svg(fig, key)


@dataclass(frozen=True)
class Band:
    """One line of a :func:`line_chart`: y values and, optionally, an interval band."""

    name: str
    y: Sequence[float]
    lo: Sequence[float] | None = None
    hi: Sequence[float] | None = None
    x: Sequence[float] | None = None  # this line's own x values, else the chart's


@_styled
def line_chart(x: Sequence[float], lines: Sequence[Band], *, title: str, key: str, xlabel: str,
               ylabel: str, mark_x: float | None = None, mark_label: str = "",
               percent_x: bool = False) -> str:
    """Lines with markers and shaded interval bands (a ratio sweep, diversity per generation).

    >>> "<svg" in line_chart([0, 0.5, 1], [Band("acc", [0.9, 0.85, 0.7], [0.88, 0.8, 0.6],
    ...                       [0.92, 0.9, 0.8])], title="t", key="doc-line", xlabel="x", ylabel="y")
    True
    """
    fig, ax = _figure(6.4, 3.2)
    xs = np.asarray(x, dtype=float)
    for i, line in enumerate(lines):
        color = PALETTE[i % len(PALETTE)]
        ys = np.asarray(line.y, dtype=float)
        lx = xs if line.x is None else np.asarray(line.x, dtype=float)
        if line.lo is not None and line.hi is not None:
            lo, hi = np.asarray(line.lo, dtype=float), np.asarray(line.hi, dtype=float)
            if len(lx) > 1:
                ax.fill_between(lx, lo, hi, color=color, alpha=0.16, linewidth=0)
            else:
                ax.errorbar(lx, ys, yerr=[np.maximum(ys - lo, 0), np.maximum(hi - ys, 0)],
                            fmt="none", ecolor=color,
                            elinewidth=2, capsize=4)
        ax.plot(lx, ys, marker="o" if len(lx) > 1 else "D", markersize=4.5 if len(lx) > 1 else 7,
                color=color, linewidth=1.8, label=line.name)
    if mark_x is not None:
        ax.axvline(mark_x, color=GOOD, linestyle="--", linewidth=1.2, label=mark_label or None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if percent_x:
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    if len(xs) and np.allclose(xs, np.round(xs)) and len(xs) <= 12 and not percent_x:
        ax.set_xticks(xs)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _svg(fig, key)


@dataclass(frozen=True)
class Estimate:
    """One point of an :func:`estimates_chart`: an estimate with its interval."""

    name: str
    value: float
    lo: float
    hi: float
    group: str = ""


@_styled
def estimates_chart(points: Sequence[Estimate], *, title: str, key: str, xlabel: str,
                    reference: float | None = None, reference_label: str = "",
                    colors: Mapping[str, str] | None = None, xlim: tuple[float, float] | None = None
                    ) -> str:
    """Point estimates with horizontal error bars, one row each (eval suites; PPI vs classical),
    coloured by group, each row's value and interval printed at the right.

    >>> "<svg" in estimates_chart([Estimate("classical", 0.8, 0.7, 0.9)], title="t",
    ...                           key="doc-est", xlabel="accuracy")
    True
    """
    fig, ax = _figure(7.2, 0.9 + 0.42 * max(len(points), 2))
    groups = list(dict.fromkeys(p.group for p in points))
    value_column = matplotlib.transforms.blended_transform_factory(ax.transAxes, ax.transData)
    for i, p in enumerate(points):
        color = (colors or {}).get(p.group, PALETTE[groups.index(p.group) % len(PALETTE)])
        ax.errorbar([p.value], [i], xerr=[[max(p.value - p.lo, 0.0)], [max(p.hi - p.value, 0.0)]],
                    fmt="o", color=color, ecolor=color, elinewidth=2.4, capsize=4, markersize=6.5)
        ax.text(1.03, i, f"{p.value:.3f}  [{p.lo:.3f}, {p.hi:.3f}]", va="center", fontsize=9,
                color=color, transform=value_column)
    if reference is not None:
        ax.axvline(reference, color=NEUTRAL, linestyle=":", linewidth=1.3)
        if reference_label:
            ax.text(reference, -0.55, f" {reference_label}", va="top", fontsize=8.5,
                    color=NEUTRAL)
    ax.set_yticks(np.arange(len(points)), [_short(p.name, 32) for p in points])
    ax.set_ylim(len(points) - 0.4, -0.6)
    ax.grid(axis="y", visible=False)
    if xlim is None:
        lows = [p.lo for p in points] + ([reference] if reference is not None else [])
        highs = [p.hi for p in points] + ([reference] if reference is not None else [])
        span = max(max(highs) - min(lows), 1e-3)
        xlim = (min(lows) - 0.08 * span, max(highs) + 0.08 * span)
        if min(lows) >= 0 and max(highs) <= 1:  # a proportion: never draw past 0 or 1
            xlim = (max(xlim[0], -0.015), min(xlim[1], 1.015))
    ax.set_xlim(*xlim)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return _svg(fig, key)


@_styled
def histogram(edges: Sequence[float], counts: Mapping[str, Sequence[int]], *, title: str,
              key: str, xlabel: str, colors: Mapping[str, str] | None = None) -> str:
    """Overlaid histograms of counts already binned on shared ``edges`` (e.g. distance to the
    closest real record), each scaled to a density so sides of different sizes compare.

    >>> "<svg" in histogram([0, 0.5, 1], {"a": [3, 1], "b": [0, 2]}, title="t", key="h",
    ...                     xlabel="x")
    True
    """
    fig, ax = _figure(6.4, 3.0)
    edges = np.asarray(edges, dtype=float)
    for i, (name, values) in enumerate(counts.items()):
        color = (colors or {}).get(name, PALETTE[i % len(PALETTE)])
        weights = np.asarray(values, dtype=float)
        ax.hist(edges[:-1], bins=edges, weights=weights, alpha=0.55, color=color,
                label=f"{name} (n={int(weights.sum()):,})", density=weights.sum() > 0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _svg(fig, key)


@_styled
def timeline(runs: Sequence[Mapping[str, object]], *, title: str, key: str) -> str:
    """Runs over time: one row per run (kind and dataset), a bar from start to end, coloured by
    kind; instantaneous runs show as a marker.

    >>> "<svg" in timeline([{"kind": "ingest", "dataset": "d", "started_at": "2025-01-01T10:00:00",
    ...                      "ended_at": "2025-01-01T10:00:02", "added": 5}], title="t", key="tl")
    True
    """
    fig, ax = _figure(9.0, 1.0 + 0.3 * max(len(runs), 2))
    kinds = list(dict.fromkeys(str(r.get("kind")) for r in runs))
    starts = [_when(r.get("started_at")) for r in runs]
    ends = [_when(r.get("ended_at")) or s for r, s in zip(runs, starts)]
    first, last = min(starts), max(ends)
    span = max((last - first).total_seconds(), 1.0)
    for i, (run, start, end) in enumerate(zip(runs, starts, ends)):
        color = PALETTE[kinds.index(str(run.get("kind"))) % len(PALETTE)]
        width = max((end - start).total_seconds(), span * 0.004) / 86400.0
        ax.barh(i, width, left=mdates.date2num(start), height=0.55, color=color)
        ax.text(mdates.date2num(start) + width, i, f"  +{int(run.get('added') or 0):,}",
                va="center", fontsize=8, color="#334155")
    ax.set_yticks(np.arange(len(runs)),
                  [_short(f"{r.get('kind')} → {r.get('dataset') or '-'}", 34) for r in runs])
    ax.set_ylim(len(runs) - 0.4, -0.6)
    ax.grid(axis="y", visible=False)
    pad = span * 0.12 / 86400.0
    ax.set_xlim(mdates.date2num(first) - pad / 3, mdates.date2num(last) + pad)
    locator = mdates.AutoDateLocator(maxticks=6)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("time (UTC)")
    ax.set_title(title)
    handles = [matplotlib.patches.Patch(color=PALETTE[i % len(PALETTE)], label=k)
               for i, k in enumerate(kinds)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _svg(fig, key)


def _when(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
