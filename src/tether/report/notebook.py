"""Notebook display: a result, or the whole report, rendered inline by the report's own views.

:meth:`tether.results.Result._repr_html_` resolves :func:`result_html` by its name
(:data:`tether.results.NOTEBOOK_VIEW`), so the results layer never imports the report. The kind's
view (``tether.report.views.<kind>``) turns the result's JSON form, verdicts included, into
blocks, and the page template's own ``render_block`` macro turns the blocks into HTML: a notebook
shows what the report's section for that kind shows, from the one rendering.

Example:
    >>> from tether.audit.mirage import MirageResult
    >>> result = MirageResult.from_dict({
    ...     "c2st_auc": 0.99, "auc_ci": [0.98, 1.0], "p_value": 0.01, "p_value_delong": 0.0,
    ...     "n_real": 400, "n_synthetic": 400, "top_features": [], "most_synthetic": [],
    ...     "least_covered_real": [], "profile": None, "features": "ngrams", "method": "C2ST"})
    >>> html = result_html(result)
    >>> 'data-kind="mirage"' in html and "C2ST AUC" in html and 'data-level="fail"' in html
    True
"""

from __future__ import annotations

import html as _html
import json
from functools import cache
from typing import TYPE_CHECKING, Any

import jinja2

from tether.report.html import _environment
from tether.report.views import view
from tether.report.views._blocks import badge
from tether.results import kind_of

if TYPE_CHECKING:
    from tether.report.html import Report
    from tether.results import Result

_FRAGMENT = """\
{% from "template.html.j2" import render_block %}
<div class="tether-result" data-kind="{{ kind.name }}">
<h3>{{ kind.title }} {{ badge }}</h3>
<p class="lede">{{ kind.lede }}</p>
{% for b in blocks %}{{ render_block(b) }}{% endfor %}
</div>
"""


@cache
def _fragment() -> jinja2.Template:
    # the page template is imported for its macro only: its page-level variables stay undefined
    return _environment().overlay(undefined=jinja2.ChainableUndefined).from_string(_FRAGMENT)


def result_html(result: Result) -> str:
    """``result`` as an HTML fragment: its kind's title, worst verdict and report view."""
    found = kind_of(result)
    data: dict[str, Any] = json.loads(json.dumps(result.to_dict(), default=str))
    levels = [v["level"] for v in data.get("verdicts") or []]
    level = next((lv for lv in ("fail", "warn", "pass") if lv in levels), "ok")
    return _fragment().render(kind=found, badge=badge(level), blocks=view(found.name)(data))


def report_html(report: Report, height: int = 720) -> str:
    """The report page in a frame of ``height`` pixels (its styles and script stay inside)."""
    from tether.report.html import render_html

    page = _html.escape(render_html(report), quote=True)
    return (f'<iframe srcdoc="{page}" style="width:100%;height:{height}px;border:1px solid '
            f'#e2e8f0;border-radius:8px" sandbox="allow-scripts" title="{_html.escape(report.title)}">'
            "</iframe>")
