"""One self-contained HTML page of a run: its pictures, the seed's table, latency, failures.

Everything is inside the file: the pictures are SVG as `data:` URIs, the style is inline,
there is no script and no external URL, so the page opens the same from a CI artifact, a
mail attachment or a browser with no network. The seed table holds the cells of
`results.csv` (the same function writes both), so the page and the CSV cannot disagree.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from html import escape

from matplotlib.figure import Figure

from results.model import Results
from results.plots import figure_svg, latency_figure, latency_point, path_label, throughput_figure
from results.report_seed_csv import seed_csv
from spec.model import NetPath

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; }
td.label, th.label { text-align: left; }
td.none { color: #c0392b; text-align: center; }
td.reason { text-align: left; white-space: normal; font-family: monospace; }
table.meta td, table.meta th { text-align: left; white-space: normal; }
.scroll { overflow-x: auto; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
p.note { font-size: 0.85em; color: #555; }
"""
HTML_REPORT = "report.html"
NONE_CELL = '<td class="none" title="no figure: failed or not run">&ndash;</td>'


def report_html(results: Results) -> str:
    """The page; pure (the pictures are drawn in memory)."""
    title = f"meshperf: stack {results.stack or '-'}, run {results.run_id or '-'}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        _metadata(results),
        "<h2>Throughput against MSS</h2>",
        _figure(
            throughput_figure(results),
            "iperf3 TCP throughput against MSS per path",
            "iperf3 TCP throughput against the MSS asked, one line per path. A failed case is a gap in"
            " its line and a cross in the red band at the top.",
        ),
        "<h2>Throughput per path (the seed's table)</h2>",
        '<p class="note">The cells of results.csv, in Mbit/s: iperf3 TCP per MSS, iperf3 UDP and netperf'
        " TCP_STREAM; Maximum over the row. &ndash; marks a case without a figure (failed or not run).</p>",
        _seed_table(results),
        "<h2>Latency</h2>",
        _figure(
            latency_figure(results),
            "netperf TCP_RR latency per path",
            "netperf TCP_RR round-trip latency percentiles per path, in microseconds.",
        ),
        _latency_table(results),
        _repeats_table(results),
        _failures(results),
        "</body>",
        "</html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _metadata(results: Results) -> str:
    failures = results.failures()
    starts = [c.start for c in results.cases if c.start is not None]
    ends = [c.end for c in results.cases if c.end is not None]
    rows: list[tuple[str, str]] = [
        ("stack", results.stack or "-"),
        ("run id", results.run_id or "-"),
        ("cases", f"{len(results.cases)} ({len(results.cases) - len(failures)} with figures, {len(failures)} failed)"),
        ("paths", ", ".join(path_label(p) for p in NetPath if any(c.path == p for c in results.cases)) or "-"),
        ("MSS points", ", ".join(str(m) for m in results.mss_points) or "-"),
        ("first case started", min(starts).isoformat() if starts else "-"),
        ("last case ended", max(ends).isoformat() if ends else "-"),
        ("files", "results.csv, results-tidy.csv, results.json, logs/ (raw tool output), next to this page"),
    ]
    body = "".join(f'<tr><th scope="row">{escape(k)}</th><td>{escape(v)}</td></tr>' for k, v in rows)
    return f'<table class="meta">{body}</table>'


def _figure(fig: Figure, alt: str, caption: str) -> str:
    data = base64.b64encode(figure_svg(fig).encode()).decode("ascii")
    return (
        f'<figure><img src="data:image/svg+xml;base64,{data}" alt="{escape(alt)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _seed_table(results: Results) -> str:
    lines = seed_csv(results).splitlines()
    header = [cell.strip() for cell in lines[0].split(";")[:-1]]
    width = len(header)
    head = '<th class="label">' + escape(header[0]) + "</th>" + "".join(f"<th>{escape(h)}</th>" for h in header[1:])
    rows = []
    for line in lines[1:]:
        label, *cells = (cell.strip() for cell in line.split(";")[:-1])
        tds = [_cell(c) for c in cells]
        if len(cells) < width - 1:  # UDP and netperf: one figure, under the first MSS as in the CSV
            tds.append(f'<td colspan="{width - 1 - len(cells)}"></td>')
        rows.append(f'<tr><td class="label">{escape(label)}</td>{"".join(tds)}</tr>')
    return _table(head, rows, scroll=True)


def _cell(text: str) -> str:
    return f"<td>{escape(text)}</td>" if text else NONE_CELL


def _latency_table(results: Results) -> str:
    paths = [p for p in NetPath if results.cases_of("tcp_rr", p)]
    if not paths:
        return '<p class="note">No netperf TCP_RR cases in this run.</p>'
    names = ("p50", "p90", "p99", "mean", "min", "max")
    head = '<th class="label">path</th>' + "".join(f"<th>{n} (us)</th>" for n in names) + "<th>transactions/s</th>"
    rows = []
    for path in paths:
        cells = [_number(latency_point(results, path, n).y, 1) for n in names]
        rates = [c.transactions_per_s for c in results.cases_of("tcp_rr", path) if c.ok and c.transactions_per_s]
        rate = sorted(rates)[len(rates) // 2] if rates else None
        rows.append(f'<tr><td class="label">{escape(path_label(path))}</td>{"".join(cells)}{_number(rate, 0)}</tr>')
    note = '<p class="note">Median over repeats where a point was measured more than once.</p>'
    return _table(head, rows) + note


def _repeats_table(results: Results) -> str:
    """Every point's summary, when the run measured any point more than once."""
    if not any(p.n + p.n_failed > 1 for p in results.points):
        return ""
    repeated = results.points
    names = ("n", "failed", "median", "min", "max", "95 % CI low", "95 % CI high")
    head = '<th class="label">point</th><th class="label">metric</th>' + "".join(f"<th>{n}</th>" for n in names)
    rows = []
    for s in repeated:
        cells = [
            f"<td>{s.n}</td>",
            f"<td>{s.n_failed}</td>",
            *(_number(v, 1) for v in (s.median, s.min, s.max, s.ci95_low, s.ci95_high)),
        ]
        rows.append(
            f'<tr><td class="label">{escape(s.key)}</td><td class="label">{escape(s.metric)}</td>{"".join(cells)}</tr>'
        )
    return "<h2>Repeats</h2>" + _table(head, rows, scroll=True)


def _failures(results: Results) -> str:
    failures = results.failures()
    if not failures:
        return "<h2>Failures</h2><p>None: every case has its figures.</p>"
    head = '<th class="label">case</th><th class="label">reason</th>'
    rows = [
        f'<tr><td class="label">{escape(case_id)}</td><td class="reason">{escape(reason)}</td></tr>'
        for case_id, reason in failures.items()
    ]
    return f"<h2>Failures ({len(failures)})</h2>" + _table(head, rows)


def _table(head: str, rows: Iterable[str], scroll: bool = False) -> str:
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    return f'<div class="scroll">{table}</div>' if scroll else table


def _number(value: float | None, decimals: int) -> str:
    return NONE_CELL if value is None else f"<td>{value:.{decimals}f}</td>"
