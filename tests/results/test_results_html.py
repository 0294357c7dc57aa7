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
from e2sar_samples import RECEIVER_014, SENDER_014
from results_testkit import EXPECTED_FAILURES, small_plan, small_stack, synthetic_folder

from results.collect import collect
from results.context import run_context
from results.e2sar import E2sarResult, parse_e2sar_pair
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


def _pair(rate: float, **figures: object) -> E2sarResult:
    label = f"e2sar-{int(rate * 1000)}m"
    return E2sarResult.model_validate(
        {
            **figures,
            "case_id": label,
            "rate_gbps_planned": rate,
            "sender_workload": "w3",
            "receiver_workload": "w2",
            "sender_log": f"{label}-sender.txt",
            "receiver_log": f"{label}-receiver.txt",
        }
    )


LABEL = "lab-20261129T161701Z"


@pytest.fixture(scope="module")
def results() -> Results:
    """The synthetic run (UDP with loss, failures of every kind), with its run block and two
    E2SAR pairs parsed from hand-written stand-in logs: one with figures, one that timed out."""
    measured = collect(small_plan(), synthetic_folder(), stack="lab", run_id="7")
    context = run_context(
        small_stack(),
        stack_name="lab",
        label=LABEL,
        profile="default",
        tool_versions={"iperf3": "iperf 3.12 (cJSON 1.7.15)", "netperf": "Netperf version 2.7.0"},
        kernel="6.1.0-test",
        cpus=2,
        meshperf_version="v0-test",
    )
    pairs = (
        _pair(0.1, **parse_e2sar_pair(SENDER_014, RECEIVER_014).model_dump()),
        _pair(1.0, ok=False, error="e2sar-1000m-receiver.txt: timed out (exit 124)"),
    )
    return measured.model_copy(update={"run": context, "e2sar_cases": pairs})


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


def test_the_page_renders_in_chromium_with_its_plots_in_colour(report: Path, tmp_path: Path) -> None:
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
    assert f"<title>meshperf: lab, {LABEL}</title>" in dom
    assert "run 1" not in dom
    assert dom.count('<img src="data:image/svg+xml;base64,') == 2
    for label in results.throughput():
        if label[0].isdigit():  # the seed's 16 rows
            assert f'<td class="label">{label}</td>' in dom
    assert "<th>536</th><th>1376</th>" in dom
    assert "p99 us" in dom
    for case_id in EXPECTED_FAILURES:
        assert f'<td class="label">{case_id}</td>' in dom
    assert "Connection refused" in dom


def _section(dom: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}">(.*?)</section>', dom, re.DOTALL)
    assert match, f"no section {section_id!r} in the page"
    return match[1]


def test_every_section_is_there_with_its_figures_labelled(report: Path, tmp_path: Path) -> None:
    dom = chromium(report.as_uri(), tmp_path / "profile", "--dump-dom").stdout
    context = _section(dom, "context")
    for name, value in (
        ("run", LABEL),
        ("profile", "default"),
        ("durations", "iperf3_udp: 2 s"),
        ("tools", "iperf3: iperf 3.12"),
        ("kernel", "6.1.0-test"),
        ("link", "MTU 1500, rate unshaped"),
        ("CPUs", "2"),
        ("meshperf", "v0-test"),
    ):
        assert re.search(rf'<th scope="row">{name}</th><td>[^<]*{re.escape(value)}', context), name
    tcp = _section(dom, "tcp")
    assert "maximum over 2 MSS points (single samples)" in tcp
    assert "13183.000000" not in dom  # numbers rounded for people
    udp = _section(dom, "udp")
    assert "loss %" in udp and "jitter ms" in udp and "single sample" in udp
    assert "netperf" in _section(dom, "netperf-stream").lower()
    assert "p50 us" in _section(dom, "rr")
    e2sar = _section(dom, "e2sar")
    assert '<td class="label">0.1 Gbps</td><td>10000</td><td>9871</td><td>129</td>' in e2sar
    failures = _section(dom, "failures")
    assert "e2sar-1000m" in failures and "timed out (exit 124)" in failures
    assert "None" not in failures


def test_a_skipped_suite_is_a_skip_not_none(results: Results) -> None:
    skipped = tuple(
        r.model_copy(update={"ok": False, "skipped": True, "error": "e2sar_perf is not on PATH"})
        for r in results.e2sar_cases
    )
    clean = [c for c in results.cases if c.ok]
    page = report_html(results.model_copy(update={"cases": tuple(clean), "e2sar_cases": skipped}))
    assert "The E2SAR suite was skipped: e2sar_perf is not on PATH" in page
    assert "None: every planned case" not in page
    assert "2 skipped, not run here" in page
    page = report_html(results.model_copy(update={"cases": tuple(clean), "e2sar_cases": ()}))
    assert "None: every planned case has its figures." in page


def test_repeated_points_say_median_n_and_interval(results: Results) -> None:
    point = next(p for p in results.points if p.tool == "iperf3_udp" and p.median is not None)
    repeated = point.model_copy(update={"n": 3, "ci95_low": 70.04, "ci95_high": 75.96})
    page = report_html(results.model_copy(update={"points": (repeated,)}))
    assert "median of n=3, 95 % CI 70.0..76.0" in page


def test_the_check_catches_a_page_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><p>x</p><script>no_such_function();</script></body></html>")
    browser = chromium(bad.as_uri(), tmp_path / "profile", "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in browser.page_messages())


def test_html_escapes_what_the_logs_say(results: Results) -> None:
    case = results.cases[0].model_copy(update={"ok": False, "error": "<script>alert(1)</script> & more"})
    page = report_html(results.model_copy(update={"cases": (case,), "points": ()}))
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page


def test_the_tools_beyond_the_seeds_each_have_their_section_and_unit(tmp_path: Path) -> None:
    """TCP_CRR (connections/s), UDP_RR (transactions/s with percentiles), UDP_STREAM (the receiver's
    Mbit/s and loss), parallel streams and the UDP size sweep, as Chromium shows them."""
    from results_testkit import MORE_TOOLS_FAILED, more_tools_folder, more_tools_stack

    from spec.plan import build_plan

    measured = collect(build_plan(more_tools_stack()), more_tools_folder(), stack="more", run_id="1")
    write_reports(measured, tmp_path)
    browser = chromium((tmp_path / "report.html").as_uri(), tmp_path / "profile", "--dump-dom")
    assert browser.returncode == 0 and browser.page_messages() == [], browser.stderr[-2000:]
    dom = browser.stdout
    row = '<td class="label">{}</td>'
    crr = _section(dom, "crr")
    assert "<th>connections/s</th><th>p50 us</th>" in crr
    # netperf-2.7-tcp-crr-keyval.txt: TRANSACTION_RATE=2517.807, P50_LATENCY=124, P99_LATENCY=4650
    assert row.format("1 Same VM using Pod IP") + "<td>2518</td><td>124</td><td>227</td><td>4650</td>" in crr
    udp_rr = _section(dom, "udp-rr")
    assert "<th>transactions/s</th><th>p50 us</th>" in udp_rr
    assert row.format("1 Same VM using Pod IP") + "<td>16141</td><td>21</td>" in udp_rr
    assert '<tr class="missing">' + row.format("6 Remote Cluster using Pod IP") in udp_rr  # no figure, marked
    assert MORE_TOOLS_FAILED in _section(dom, "failures")
    udp_stream = _section(dom, "udp-stream")
    assert "<th>Mbit/s received</th><th>loss %</th>" in udp_stream
    assert row.format("6 Remote Cluster using Pod IP") + "<td>1400</td><td>146</td><td>38.0</td><td>15795</td>" in (
        udp_stream
    )
    streams = _section(dom, "streams")
    assert row.format("1 Same VM using Pod IP, TCP x4") + "<td>2578</td><td>640..650</td><td>1364</td>" in streams
    assert row.format("6 Remote Cluster using Pod IP, UDP x4") + "<td>221</td><td>55.2..55.2</td>" in streams
    udp = _section(dom, "udp")  # the sweep: a row per datagram size
    assert row.format("1 Same VM using Pod IP") + "<td>96</td><td>14.7</td><td>47.6</td>" in udp
    assert row.format("1 Same VM using Pod IP") + "<td>1400</td><td>155</td><td>52.5</td>" in udp


def test_a_run_of_the_seeds_tools_has_no_empty_sections_for_the_others(results: Results) -> None:
    page = report_html(results)
    assert all(f'<section id="{s}">' not in page for s in ("crr", "udp-rr", "udp-stream", "streams"))
    assert '<section id="rr">' in page and '<section id="udp">' in page
