"""report.html: self-contained, and opened in headless Chromium without errors.

Chromium runs in its own process group with a time limit, and the whole group is killed on
every way out, so no browser process outlives a test. What Chromium writes to stderr on this
machine, besides what the page says, is its own noise, characterised here: the Debian
wrapper script's shell warning on its first line, D-Bus errors (no system bus in a
container: `dbus/bus.cc`, `dbus/object_proxy.cc`) and WARNING lines (no GPU devices, the GPU
process sandbox, Bluetooth, UPower, screensaver). A page's own messages come as
`INFO:CONSOLE` lines (console calls and uncaught exceptions): any such line fails the
test, as does any ERROR line from outside the known noise. A page with a deliberate error
checks that the check can fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from results_testkit import EXPECTED_FAILURES, small_plan, synthetic_folder

from results.collect import collect
from results.model import Results
from results.report_html import report_html
from results.reports import write_reports

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_S = 60
WINDOW = (1280, 2000)

# [pid:tid:date/time.us:LEVEL:source/file.cc:line] message
LOG_LINE = re.compile(r"^\[\d+:\d+:\d+/\d+\.\d+:(?P<level>[A-Z]+):(?P<source>[^\]]+)\] (?P<message>.*)$")
NOISE_SOURCES = re.compile(r"^dbus/(bus|object_proxy|property)\.cc:\d+$")
PAGE_ERROR = re.compile(r"CONSOLE|Uncaught", re.IGNORECASE)


@dataclass
class Browser:
    returncode: int
    stdout: str
    stderr: str

    def page_messages(self) -> list[str]:
        """Lines the page caused: console output and uncaught exceptions."""
        return [line for line in self.stderr.splitlines() if PAGE_ERROR.search(line)]

    def unexpected_errors(self) -> list[str]:
        """ERROR (or FATAL) lines from Chromium that are not its known noise on this machine."""
        out = []
        for line in self.stderr.splitlines():
            m = LOG_LINE.match(line)
            if m and m["level"] in ("ERROR", "FATAL") and not NOISE_SOURCES.match(m["source"]):
                out.append(line)
        return out


def _group_alive(pgid: int) -> list[int]:
    """Processes still in the process group `pgid`."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already gone
        os.killpg(pgid, signal.SIGKILL)


def chromium(url: str, profile: Path, *mode: str) -> Browser:
    """Run headless Chromium on `url` once; kill its process group however this ends."""
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *mode,
        url,
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.communicate()
        pytest.fail(f"chromium did not finish within {TIMEOUT_S} s")
    finally:
        _kill_group(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 5
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _group_alive(proc.pid), "chromium processes outlived the run"
    return Browser(proc.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def results() -> Results:
    return collect(small_plan(), synthetic_folder(), stack="lab", run_id="7")


@pytest.fixture(scope="module")
def report(results: Results, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    write_reports(results, out)
    return out / "report.html"


def test_the_page_is_self_contained(report: Path) -> None:
    text = report.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//|file:)""", text, re.IGNORECASE)
    assert not re.search(r"url\(|@import", text, re.IGNORECASE)
    assert text.count('<img src="data:image/svg+xml;base64,') == 2


def test_the_page_opens_in_chromium_without_errors(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    browser = chromium(report.as_uri(), tmp_path / "profile", f"--screenshot={shot}")
    assert browser.returncode == 0, browser.stderr[-2000:]
    assert browser.page_messages() == []
    assert browser.unexpected_errors() == []
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    rgb = pixels[..., :3]
    assert float(np.mean(rgb < 0.9)) > 0.02, "the screenshot is (nearly) blank"
    assert float(np.mean(np.abs(rgb[..., 0] - rgb[..., 2]) > 0.2)) > 0.001, "no colour: the plots did not render"


def test_the_dom_holds_the_tables_and_the_pictures(report: Path, results: Results, tmp_path: Path) -> None:
    browser = chromium(report.as_uri(), tmp_path / "profile", "--dump-dom")
    assert browser.returncode == 0, browser.stderr[-2000:]
    assert browser.page_messages() == []
    dom = browser.stdout
    assert "<title>meshperf: stack lab, run 7</title>" in dom
    assert dom.count('<img src="data:image/svg+xml;base64,') == 2
    for label in results.throughput():
        if label[0].isdigit():  # the seed's 16 rows
            assert f'<td class="label">{label}</td>' in dom
    assert "<th>536</th><th>1376</th>" in dom
    assert "p99 (us)" in dom
    for case_id in EXPECTED_FAILURES:
        assert f'<td class="label">{case_id}</td>' in dom
    assert "Connection refused" in dom


def test_the_check_catches_a_page_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><p>x</p><script>no_such_function();</script></body></html>")
    browser = chromium(bad.as_uri(), tmp_path / "profile", "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in browser.page_messages())


def test_html_escapes_what_the_logs_say(results: Results) -> None:
    case = results.cases[0].model_copy(update={"ok": False, "error": "<script>alert(1)</script> & more"})
    page = report_html(results.model_copy(update={"cases": (case,), "points": ()}))
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
