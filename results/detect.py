"""Which tool wrote a raw output, and its figures: the one entry point for any log file.

Files are named by case, not by tool, and a log folder may hold anything (a truncated
file, a shell error): detection looks at the content and raises UnknownOutputError, with
a reason fit for one line, for text no known tool wrote.
"""

from __future__ import annotations

from results.errors import UnknownOutputError
from results.figures import Figures, ToolName, failed
from results.iperf3 import iperf3_figures, load_iperf3_json, looks_like_iperf3_text, parse_iperf3_text
from results.netperf import looks_like_netperf, parse_netperf


def detect_tool(text: str) -> ToolName:
    """'iperf3' for iperf3 -J output, 'netperf' for netperf's; UnknownOutputError otherwise."""
    stripped = text.strip()
    if not stripped:
        raise UnknownOutputError("empty output")
    if stripped.startswith("{"):
        load_iperf3_json(stripped)
        return "iperf3"
    if looks_like_netperf(text):
        return "netperf"
    if looks_like_iperf3_text(text):
        return "iperf3"
    first = stripped.splitlines()[0][:60]
    raise UnknownOutputError(f"neither iperf3 JSON nor netperf output (starts {first!r})")


def parse_output(text: str) -> Figures:
    """The figures of one raw output, whichever known tool wrote it."""
    if detect_tool(text) == "iperf3":
        if not text.strip().startswith("{"):
            return no_throughput_is_a_failure(parse_iperf3_text(text))
        return no_throughput_is_a_failure(iperf3_figures(load_iperf3_json(text)))
    return no_throughput_is_a_failure(parse_netperf(text))


def no_throughput_is_a_failure(figures: Figures) -> Figures:
    """A throughput of zero or less measured nothing: a failure with its reason, never a figure."""
    if figures.ok and figures.throughput_mbps is not None and figures.throughput_mbps <= 0:
        return failed(figures.tool, f"{figures.tool} reported {figures.throughput_mbps:g} Mbit/s", figures.test)
    return figures
