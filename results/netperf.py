"""netperf output -> Figures: classic tables, omni `-k KEY=value` and omni `-o` CSV.

The test (TCP_STREAM, TCP_RR, TCP_CRR, UDP_RR, UDP_STREAM) is read from netperf's banner.
Request/response tests give a transaction rate (for TCP_CRR: connections per second, each
transaction being a new connection) and latency percentiles; UDP_STREAM's figures are the
receiver's (THROUGHPUT is REMOTE_RECV_THROUGHPUT there), its loss the datagrams the
receiver did not get (LOCAL_SEND_CALLS against REMOTE_RECV_CALLS).

Any magnitude parses (a link under 100 Mbit/s is a figure, not a miss), in whatever unit
THROUGHPUT_UNITS or the classic table's unit row names. A failed run (no netserver on the
control port, a broken data connection) prints an error line instead of figures: that is
returned as a failure with the line as its reason.
"""

from __future__ import annotations

import csv
import re

from results.errors import UnknownOutputError
from results.figures import RR_TESTS, Figures, Latency, TestKind, failed

_BANNER = re.compile(r"^(?:MIGRATED )?[A-Za-z0-9_/ ]+ TEST from ", re.MULTILINE)
_KEYVAL = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")
_UNIT = re.compile(r"10\^(\d+)(bits|bytes)/s(?:ec)?\b", re.IGNORECASE)
# Lines only netperf writes: enough to tell its failed runs from other text (`Netperf could not resolve`:
# a target it cannot look up, such as an IPv6 address without -6).
_NETPERF_ERROR = re.compile(
    r"establish[ _]control|^netperf: |^netserver: |\bsend_data\b|\brecv_response|\bsend_omni\b|\brecv_omni\b"
    r"|^Netperf could not resolve "
)
# Once the text is known to be netperf's, these also name the failure.
_ANY_ERROR = re.compile(
    r"could not (?:establish|resolve|create|connect)|connection refused|connection reset|no route to host|"
    r"network is unreachable|getaddrinfo|timed out|\berrno\b",
    re.IGNORECASE,
)

# Omni output selectors netperf 2.7 names, and the headers `-o` prints for them.
KNOWN_KEYS = frozenset(
    {
        "THROUGHPUT",
        "THROUGHPUT_UNITS",
        "LOCAL_SEND_SIZE",
        "ELAPSED_TIME",
        "MIN_LATENCY",
        "MEAN_LATENCY",
        "P50_LATENCY",
        "P90_LATENCY",
        "P99_LATENCY",
        "MAX_LATENCY",
        "TRANSACTION_RATE",
        "STDDEV_LATENCY",
        "PROTOCOL",
        "DIRECTION",
        "LOCAL_SEND_THROUGHPUT",
        "REMOTE_RECV_THROUGHPUT",
        "LOCAL_SEND_CALLS",
        "REMOTE_RECV_CALLS",
    }
)
CSV_HEADERS: dict[str, str] = {
    "Throughput": "THROUGHPUT",
    "Throughput Units": "THROUGHPUT_UNITS",
    "Local Send Size": "LOCAL_SEND_SIZE",
    "Elapsed Time (sec)": "ELAPSED_TIME",
    "Minimum Latency Microseconds": "MIN_LATENCY",
    "Mean Latency Microseconds": "MEAN_LATENCY",
    "50th Percentile Latency Microseconds": "P50_LATENCY",
    "90th Percentile Latency Microseconds": "P90_LATENCY",
    "99th Percentile Latency Microseconds": "P99_LATENCY",
    "Maximum Latency Microseconds": "MAX_LATENCY",
    "Transaction Rate Tran/s": "TRANSACTION_RATE",
    "Stddev Latency Microseconds": "STDDEV_LATENCY",
    "Remote Recv Throughput": "REMOTE_RECV_THROUGHPUT",
    "Local Send Throughput": "LOCAL_SEND_THROUGHPUT",
    "Local Send Calls": "LOCAL_SEND_CALLS",
    "Remote Recv Calls": "REMOTE_RECV_CALLS",
}
# Banner words -> test, e.g. "MIGRATED TCP Connect/Request/Response TEST from ...".
_BANNER_TESTS: tuple[tuple[str, TestKind], ...] = (
    ("TCP CONNECT/REQUEST/RESPONSE", "tcp_crr"),
    ("TCP REQUEST/RESPONSE", "tcp_rr"),
    ("UDP REQUEST/RESPONSE", "udp_rr"),
    ("TCP STREAM", "tcp_stream"),
    ("UDP STREAM", "udp_stream"),
)
_LATENCY_KEYS = {
    "p50": "P50_LATENCY",
    "p90": "P90_LATENCY",
    "p99": "P99_LATENCY",
    "mean": "MEAN_LATENCY",
    "min": "MIN_LATENCY",
    "max": "MAX_LATENCY",
}


def looks_like_netperf(text: str) -> bool:
    """True when the text carries a netperf banner, omni keys, an omni CSV or a netperf error."""
    if _BANNER.search(text) or _error_line(text, netperf_only=True):
        return True
    if _omni_values(text):
        return True
    return "Throughput" in text and _UNIT.search(text) is not None


def parse_netperf(text: str) -> Figures:
    """Figures of one netperf output (raises UnknownOutputError for other text)."""
    if not text.strip():
        raise UnknownOutputError("empty output")
    test = _test_kind(text)
    values = _omni_values(text)
    figures = _omni_figures(values, test) if values else _classic_figures(text, test)
    error = _error_line(text)
    if figures is None:
        if error:
            return failed("netperf", error if error.startswith("netperf") else f"netperf: {error}", test)
        if looks_like_netperf(text):
            return failed("netperf", "netperf output without a result line", test)
        raise UnknownOutputError("neither a netperf banner, omni output nor a netperf error")
    missing = _missing_figure(figures) if figures.ok else None
    if missing:
        return failed("netperf", f"netperf {figures.test} output without {missing}", figures.test)
    return figures


def _test_kind(text: str) -> TestKind | None:
    banner = _BANNER.search(text)
    if banner:
        line = banner.group(0).upper()
        return next((test for words, test in _BANNER_TESTS if f" {words} TEST" in f" {line}"), None)
    return None


def _is_rr(test: TestKind | None) -> bool:
    return test in RR_TESTS


def _error_line(text: str, netperf_only: bool = False) -> str | None:
    """The first line that reports an error (netperf's own wording only, when asked)."""
    for line in text.splitlines():
        if _BANNER.match(line):
            continue
        if _NETPERF_ERROR.search(line) or (not netperf_only and _ANY_ERROR.search(line)):
            return line.strip()
    return None


def _omni_values(text: str) -> dict[str, str]:
    """KEY -> value from `-k` lines and from an `-o` header/value pair of lines."""
    values: dict[str, str] = {}
    lines = [line for line in text.splitlines() if line.strip()]
    for line in lines:
        m = _KEYVAL.match(line.strip())
        if m and m.group(1) in KNOWN_KEYS:
            values[m.group(1)] = m.group(2).strip()
    for i, line in enumerate(lines[:-1]):
        header = next(csv.reader([line]))
        if not any(name.strip() in CSV_HEADERS for name in header):
            continue
        row = next(csv.reader([lines[i + 1]]))
        for name, value in zip(header, row, strict=False):
            key = CSV_HEADERS.get(name.strip())
            if key:
                values[key] = value.strip()
    return values


def _omni_figures(values: dict[str, str], test: TestKind | None) -> Figures | None:
    latency = {name: _float(values.get(key)) for name, key in _LATENCY_KEYS.items()}
    rate = _float(values.get("TRANSACTION_RATE"))
    mbps = None
    throughput = _float(values.get("THROUGHPUT"))
    units = values.get("THROUGHPUT_UNITS", "")
    note = None
    if throughput is not None:
        if "trans" in units.lower():
            rate = rate if rate is not None else throughput
        elif units:
            mbps = _to_mbps(throughput, units)
            if mbps is None:
                return failed("netperf", f"netperf THROUGHPUT_UNITS {units!r}: unknown unit", test)
        elif _is_rr(test):
            rate = rate if rate is not None else throughput
        else:
            mbps = throughput
            note = "no THROUGHPUT_UNITS: netperf's default 10^6bits/s assumed"
    if mbps is None and rate is None and all(v is None for v in latency.values()):
        return None
    has_latency = any(v is not None for v in latency.values())
    sent, received = _float(values.get("LOCAL_SEND_CALLS")), _float(values.get("REMOTE_RECV_CALLS"))
    loss = None
    if test == "udp_stream" and sent and received is not None:
        loss = {"loss_percent": max(0.0, (1 - received / sent) * 100), "lost_packets": max(0, int(sent - received))}
    return Figures(
        tool="netperf",
        test=test,
        ok=True,
        throughput_mbps=mbps,
        transactions_per_s=rate,
        latency_us=Latency(**latency) if has_latency else None,
        note=note,
        **(loss or {}),
    )


def _classic_figures(text: str, test: TestKind | None) -> Figures | None:
    """The classic table: TCP_STREAM's 5th field (unit from the unit row), TCP_RR's 6th."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        unit = _UNIT.search(line)
        if unit and test == "udp_stream":  # the receiver's line: socket, elapsed, messages, throughput
            fields = _last_numeric_row(lines[i + 1 :], 4)
            if fields is None:
                return None
            return Figures(tool="netperf", test=test, ok=True, throughput_mbps=_to_mbps(fields[3], unit.group(0)))
        if unit and not _is_rr(test):
            fields = _last_numeric_row(lines[i + 1 :], 5)
            if fields is None:
                return None
            return Figures(tool="netperf", test=test, ok=True, throughput_mbps=_to_mbps(fields[4], unit.group(0)))
        if re.search(r"\bper sec\b", line) and test in (None, *RR_TESTS):
            fields = _last_numeric_row(lines[i + 1 :], 6)
            if fields is None:
                return None
            return Figures(tool="netperf", test=test, ok=True, transactions_per_s=fields[5])
    return None


def _last_numeric_row(lines: list[str], width: int) -> list[float] | None:
    """The last line with at least `width` fields, the first `width` of them numbers."""
    for line in reversed(lines):
        fields = line.split()
        if len(fields) < width:
            continue
        numbers = [_float(f) for f in fields[:width]]
        if all(n is not None for n in numbers):
            return [n for n in numbers if n is not None]
    return None


def _to_mbps(value: float, units: str) -> float | None:
    m = _UNIT.search(units)
    if not m:
        return None
    bits = value * 10.0 ** int(m.group(1)) * (8 if m.group(2).lower() == "bytes" else 1)
    return bits / 1e6


def _missing_figure(figures: Figures) -> str | None:
    """The figure a test must give and did not (no banner, no test: any figure will do)."""
    if _is_rr(figures.test):
        if figures.transactions_per_s is None and figures.latency_us is None:
            return "a transaction rate or latency"
    elif figures.test is not None and figures.throughput_mbps is None:
        return "a throughput"
    return None


def _float(value: str | None) -> float | None:
    """A netperf number; netperf writes -1 (or nan) for a figure it could not measure."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if number != number or number < 0:
        return None
    return number
