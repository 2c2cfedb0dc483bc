"""The report: one self-contained HTML page (and its JSON twin) built from the store.

Example:
    >>> from tether import Store
    >>> from tether.report import build_report, write_report
    >>> with Store(":memory:") as s:  # doctest: +SKIP
    ...     write_report(build_report(s), "report.html", "report.json")
"""

from tether.report.html import Report, Section, build_report, render_html, write_report

__all__ = ["Report", "Section", "build_report", "render_html", "write_report"]
