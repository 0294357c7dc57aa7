"""Writing a run's reports, and the one-line figure of a case that progress prints."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from results.files import write_atomic
from results.model import CaseResult, Results
from results.plots import latency_figure, throughput_figure, write_figure
from results.report_e2sar import CSV_NAME as E2SAR_CSV
from results.report_e2sar import e2sar_csv
from results.report_html import HTML_REPORT, report_html
from results.report_json import results_json
from results.report_seed_csv import seed_csv
from results.report_tidy_csv import tidy_csv
from spec.model import RR_TOOLS

REPORT_FILES = ("results.csv", "results-tidy.csv", "results.json")


def write_reports(results: Results, out: Path) -> list[Path]:
    """The seed-format CSV, the tidy CSV and the JSON (and the E2SAR CSV), then the pictures
    and report.html (`write_pictures`), written into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in REPORT_FILES]
    for path, text in zip(paths, (seed_csv(results), tidy_csv(results), results_json(results)), strict=True):
        write_atomic(path, text)
    if results.e2sar_cases:  # beside the netperf ones, when the stack ran the E2SAR suite
        paths.append(out / E2SAR_CSV)
        write_atomic(paths[-1], e2sar_csv(results))
    return paths + write_pictures(results, out)


def write_pictures(results: Results, out: Path) -> list[Path]:
    """throughput-vs-mss and latency as PNG and SVG, and report.html (self-contained), in `out`."""
    paths = write_figure(throughput_figure(results), out, "throughput-vs-mss")
    paths += write_figure(latency_figure(results), out, "latency")
    # The page embeds the SVGs just written: drawn once (that took 6 s of a 15 s report under load).
    svgs = {"throughput": (out / "throughput-vs-mss.svg").read_text(), "latency": (out / "latency.svg").read_text()}
    paths.append(out / HTML_REPORT)
    write_atomic(paths[-1], report_html(results, svgs))
    return paths


def case_summary(case: CaseResult) -> str:
    """A case's headline figure, or its failure, in a few words (IPv6 said)."""
    return _headline(case) + (" IPv6" if case.family == "ipv6" else "")


def _headline(case: CaseResult) -> str:
    if not case.ok:
        return f"FAILED {case.error}"
    if case.tool in RR_TOOLS:
        latency = case.latency_us
        p50 = f"p50 {latency.p50:.0f} us " if latency and latency.p50 is not None else ""
        unit = "conn/s" if case.tool == "tcp_crr" else "trans/s"
        return f"{p50}{case.transactions_per_s or 0:.0f} {unit}"
    text = f"{case.throughput_mbps or 0:.1f} Mbit/s"
    if case.tool == "iperf3_tcp" and case.mss_actual is not None:
        text += f" (mss {case.mss_actual})"
    if case.streams > 1:
        text += f" ({case.streams} streams)"
    if case.tool in ("iperf3_udp", "udp_stream") and case.loss_percent is not None:
        text += f" (loss {case.loss_percent:.2f}%)"
    return text


class OutputFolderError(ValueError):
    """A folder that reports cannot go to; str() is one line naming the option and the folder."""


def ensure_writable_folder(folder: Path, option: str) -> None:
    """Make `folder` (and its parents) and check that a file can be written in it, before any work.

    The probe is a fresh file of a random name (O_EXCL): never a name someone could have linked."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".meshperf-probe-")
        os.close(fd)
        Path(probe).unlink()
    except FileExistsError:
        raise OutputFolderError(f"{option} {folder}: is a file, not a folder") from None
    except OSError as exc:
        raise OutputFolderError(f"{option} {folder}: cannot write there: {exc.strerror or exc}") from None
