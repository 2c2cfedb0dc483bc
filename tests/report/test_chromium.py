"""The report in a real browser: headless Chromium renders it (not blank), every section heading
is in the DOM, and the page makes no network request.

How "no network request" is shown: the report is served from a local HTTP server and loaded
by Chromium with a net log (``--log-net-log``), which records every URL request the browser
starts. Two independent witnesses must agree: the net log names no http(s)/ws(s)/ftp URL but
the page's own, and the server is asked for the page and nothing else (a relative reference
would show up there). The report carries a Content-Security-Policy that would block requests
before they reach the network, so the test serves a copy *without* that policy: the page's own
markup must not ask for anything. A positive control (a page with one remote image, loaded the
same way) shows that the net log does record such a request, so an empty log means no request,
not a blind log. (The browser's own favicon probe, if any, is not the page's request.)
"""

from __future__ import annotations

import contextlib
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

from tether import Store
from tether.policy import parse_policy
from tether.report import build_report, write_report
from tether.results import KINDS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("CI"):
    pytest.fail("Chromium is required in CI (.ci/run installs it)", pytrace=False)
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="Chromium is not installed (apt-get install chromium); "
                                       "CI installs it and runs this test")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars"]
SITE = "http://127.0.0.1"
CSP = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>')


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180, check=True)


def page_requests(net_log: Path, site: str) -> list[str]:
    """URLs of every request the page at ``site`` started, from Chromium's net log.

    Each request the network stack starts is a ``URL_REQUEST_START_JOB`` event. The page's own
    requests (its navigation and any subresource) carry the page's site in their network
    isolation key, or the page's origin as initiator; the browser's own services (update
    checks, account probes) carry neither, and are not the page's doing.
    """
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if event["type"] != start or "url" not in params:
            continue
        if (str(params.get("network_isolation_key", "")).startswith(site)
                or str(params.get("initiator", "")).startswith(site)):
            urls.append(params["url"])
    return urls


@pytest.fixture(scope="module")
def report_file(report_store, tmp_path_factory) -> tuple[Path, list[str]]:
    """The report, written as a user would get it, and a copy without its CSP for the net test."""
    out = tmp_path_factory.mktemp("chromium")
    with Store(report_store) as store:
        report = build_report(store)
    path = write_report(report, out / "report.html")
    return path, [s.title for s in report.sections]


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` on 127.0.0.1 (a free port) and record every path asked for."""
    asked: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def do_GET(self):
            asked.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_net_log_records_a_remote_request(tmp_path):
    """Positive control: the detector sees a request when a page makes one."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "control.html").write_text(
        '<!DOCTYPE html><img src="http://127.0.0.1:9/tether-probe.png">')
    log = tmp_path / "control-net.json"
    with serve(site) as (root, asked):
        chromium(tmp_path, f"--log-net-log={log}", "--dump-dom", f"{root}/control.html")
    requests = page_requests(log, SITE)
    assert f"{root}/control.html" in requests
    assert "http://127.0.0.1:9/tether-probe.png" in requests
    assert "/control.html" in asked


def test_every_section_heading_is_in_the_dom_and_no_request_is_made(report_file, tmp_path):
    """Served from a local HTTP server, so that loading the page itself is one logged request:
    both the net log and the server must see that request and nothing else."""
    path, titles = report_file
    site = tmp_path / "site"
    site.mkdir()
    text = path.read_text(encoding="utf-8")
    assert CSP.search(text)
    (site / "report.html").write_text(CSP.sub("", text), encoding="utf-8")
    log = tmp_path / "net.json"
    with serve(site) as (root, asked):
        page = f"{root}/report.html"
        dom = chromium(tmp_path, f"--log-net-log={log}", "--dump-dom", page).stdout
    headings = [html.unescape(re.sub(r"<[^>]+>", " ", h))
                for h in re.findall(r"<h2>(.*?)</h2>", dom, flags=re.S)]
    assert len(headings) == len(titles) == 2 + len(KINDS)  # summary, provenance, kinds
    for title, heading in zip(titles, headings):
        assert title in heading
    assert dom.count("<svg") >= 15
    requests = page_requests(log, SITE)
    assert page in requests  # the log saw the one request that loads the page
    assert [u for u in requests if u not in (page, f"{root}/favicon.ico")] == []
    assert [p for p in asked if p != "/favicon.ico"] == ["/report.html"]


def test_screenshot_is_not_blank(report_file, tmp_path):
    path, _ = report_file
    shot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,4000", path.as_uri())
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[:2] == (4000, 1280)
    non_white = (pixels < 0.94).any(axis=-1).mean()
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert non_white > 0.08  # text, cards and charts: a blank page has none
    assert len(colours) > 200  # the report's palette and anti-aliased charts
    # the dark header and the blue of real data (charts) are both on screen
    assert (pixels[:150] < 0.2).all(axis=-1).mean() > 0.3
    blue = (pixels[..., 2] > 0.8) & (pixels[..., 0] < 0.3) & (pixels[..., 1] < 0.5)
    assert blue.sum() > 2000


GATE = 'max_synthetic_share = 0.5\n[[mirage]]\nreal = "train"\nsynthetic = "synthetic"\nmax_auc = 0.8'


@pytest.fixture(scope="module")
def gated_file(report_store, tmp_path_factory) -> tuple[Path, dict]:
    """The report with a policy gate, and its JSON twin."""
    out = tmp_path_factory.mktemp("chromium-gated")
    with Store(report_store) as store:
        report = build_report(store, policy=parse_policy(GATE, "tether.toml"))
    path = write_report(report, out / "report.html", out / "report.json")
    return path, json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_summary_is_first_and_every_verdict_badge_matches_the_json_twin(gated_file, tmp_path):
    """Rendered by Chromium (served without its CSP, with a net log): the summary is the first
    section, each heading's badge and each row of the verdict table carry the twin's level,
    and the page still asks for nothing but itself."""
    path, twin = gated_file
    site = tmp_path / "site"
    site.mkdir()
    (site / "report.html").write_text(CSP.sub("", path.read_text(encoding="utf-8")),
                                      encoding="utf-8")
    log = tmp_path / "net.json"
    with serve(site) as (root, asked):
        page = f"{root}/report.html"
        dom = chromium(tmp_path, f"--log-net-log={log}", "--dump-dom", page).stdout
    sections = twin["sections"]
    keys = [s["key"] for s in sections]
    ids = re.findall(r'<section class="card[^"]*" id="([^"]+)"', dom)
    assert ids[:2] == ["summary", "policy"] and [i for i in ids if i in keys] == keys
    heading = dict(re.findall(r'<section class="card[^"]*" id="([^"]+)">\s*<h2>.*?'
                              r'data-level="([^"]+)"', dom, flags=re.S))
    assert {k: heading[k] for k in keys} == {s["key"]: s["level"] for s in sections}
    assert heading["summary"] == "fail" and heading["mirage"] == "fail"
    table = dom.split("Every verdict, worst first</h3>")[1].split("</table>")[0]
    rows = [r for r in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S) if "<td" in r]
    verdicts = sections[0]["verdicts"]
    assert len(rows) == len(verdicts) == sum(len(s["verdicts"]) for s in sections[1:])
    for row, verdict in zip(rows, verdicts):
        assert re.search(r'data-level="([^"]+)"', row).group(1) == verdict["level"]
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c))
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        assert cells[2:] == [verdict["finding"], verdict["rule"]]
    policy = dom.split('id="policy"')[1].split("</section>")[0]
    assert re.findall(r'<td><span class="badge \w+" data-level="(\w+)"', policy) == \
        [v["level"] for v in sections[1]["verdicts"]]
    requests = page_requests(log, SITE)
    assert page in requests
    assert [u for u in requests if u not in (page, f"{root}/favicon.ico")] == []
    assert [p for p in asked if p != "/favicon.ico"] == ["/report.html"]


def test_first_screen_shows_the_failures(gated_file, tmp_path):
    """The first screen (1280×900) is where a skimming reader decides: the failing verdicts'
    red (the summary card's border, the fail badges and action boxes) must be on it."""
    path, _ = gated_file
    shot = tmp_path / "first.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", path.as_uri())
    pixels = (mpimg.imread(shot)[..., :3] * 255).astype(int)
    red = ((abs(pixels[..., 0] - 220) < 12) & (abs(pixels[..., 1] - 38) < 12)
           & (abs(pixels[..., 2] - 38) < 12))  # --bad, #dc2626
    pink = (pixels[..., 0] > 250) & (abs(pixels[..., 1] - 226) < 6) & (abs(pixels[..., 2] - 226) < 6)
    assert red.sum() > 2000  # the summary card's 5-pixel red border alone is ~3,000
    assert pink.sum() > 300  # fail badges (#fee2e2)


#: Run in the page (served without its CSP, so that this probe may run): click the first link
#: to a record, then filter the sample browser; the outcome lands in ``data-probe`` on <body>.
#: (Smooth scrolling is turned off: headless Chromium's virtual time does not animate it.)
PROBE = """<style>html { scroll-behavior: auto !important; }</style><script>
window.addEventListener("load", function () {
  var out = {};
  var link = document.querySelector("#overlap a.rec");
  out.href = link.getAttribute("href");
  link.click();
  setTimeout(function () {
    var t = document.querySelector(":target"), box = t && t.getBoundingClientRect();
    out.target = t && t.id;
    out.open = !!(t && t.closest("details") && t.closest("details").open);
    out.visible = !!box && box.height > 0 && box.top >= 0 && box.top < window.innerHeight;
    var select = document.querySelector("[data-browser] select[name=dataset]");
    select.value = "synthetic";
    select.dispatchEvent(new Event("change", {bubbles: true}));
    var rows = document.querySelectorAll("[data-browser] tbody tr");
    out.shown = Array.prototype.filter.call(rows, function (r) { return r.offsetParent !== null; }).length;
    out.rows = rows.length;
    out.count = document.querySelector("[data-count]").textContent;
    document.body.setAttribute("data-probe", JSON.stringify(out));
  }, 300);
});
</script>"""


def _probe(dom: str) -> dict:
    found = re.search(r'data-probe="([^"]*)"', dom)
    assert found, "the probe did not run"
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture(scope="module")
def records(report_store):
    with Store(report_store) as store:
        return build_report(store).records


def test_clicking_an_id_targets_its_record_and_the_filters_work(report_file, records, tmp_path):
    path, _ = report_file
    site = tmp_path / "site"
    site.mkdir()
    text = CSP.sub("", path.read_text(encoding="utf-8")).replace("</body>", PROBE + "</body>")
    (site / "report.html").write_text(text, encoding="utf-8")
    with serve(site) as (root, _):
        dom = chromium(tmp_path, "--window-size=1280,900", "--virtual-time-budget=5000",
                       "--dump-dom", f"{root}/report.html").stdout
    probe = _probe(dom)
    assert probe["href"].startswith("#rec-") and probe["target"] == probe["href"][1:]
    assert probe["open"] and probe["visible"], json.dumps(probe)  # the folded record opened and is on screen
    synthetic = sum(r["dataset"] == "synthetic" for r in records)
    assert 0 < synthetic < len(records) == probe["rows"]
    assert probe["shown"] == synthetic
    assert probe["count"] == f"{synthetic} of {len(records)} shown"


def test_the_browser_script_runs_under_the_pages_own_csp(report_file, tmp_path):
    """The page as written (with its Content-Security-Policy): the inline script is allowed by
    its hash, so the filters appear and count the rows; a blocked script would leave them hidden."""
    path, _ = report_file
    dom = chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", path.as_uri()).stdout
    form = re.search(r'<form class="filters"[^>]*>', dom).group(0)
    assert "hidden" not in form
    rows = len(re.findall(r"<tr data-dataset=", dom))
    assert f"{rows} of {rows} shown" in dom and rows > 0
