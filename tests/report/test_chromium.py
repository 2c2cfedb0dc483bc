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
    assert len(headings) == len(titles) == 1 + len(KINDS)
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
