"""E2SAR reports: a CSV with one row per rate (`results-e2sar.csv`) and a terminal table.

Loss is shown both ways: `loss` (events sent minus events received, the honest count) and
`e2sar_lost` (E2SAR's own counters, which miss events none of whose fragments arrived).
A failed or skipped pair has its reason in `error` and empty figures.
"""

from __future__ import annotations

import csv
import io

from results.model import Results

CSV_NAME = "results-e2sar.csv"
COLUMNS = (
    "case_id",
    "rate_gbps",
    "sender",
    "receiver",
    "ok",
    "version",
    "events_sent",
    "events_received",
    "loss",
    "loss_percent",
    "e2sar_lost",
    "e2sar_mangled",
    "data_errors",
    "sent",
    "sent_unit",
    "send_errors",
    "achieved_gbps",
    "error",
    "note",
)


def e2sar_csv(results: Results) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in results.e2sar_cases:
        row = r.model_dump()
        row.update(rate_gbps=f"{r.rate_gbps_planned:g}", sender=r.sender_workload, receiver=r.receiver_workload)
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in COLUMNS})
    return out.getvalue()


def e2sar_table(results: Results) -> str:
    """A few lines per rate for the terminal; '' when the run had no E2SAR pairs."""
    if not results.e2sar_cases:
        return ""
    head = f"{'E2SAR rate':<12} {'sent':>10} {'received':>10} {'loss':>8} {'loss %':>8} {'e2sar lost':>10} {'Gbps':>7}"
    lines = [head, "-" * len(head)]
    for r in results.e2sar_cases:
        if not r.ok:
            lines.append(f"{r.rate_key:<12} {'SKIPPED' if r.skipped else 'FAIL'}: {r.error}")
            continue
        pct = "?" if r.loss_percent is None else f"{r.loss_percent:.3f}"
        gbps = "-" if r.achieved_gbps is None else f"{r.achieved_gbps:.3f}"
        lines.append(
            f"{r.rate_key:<12} {_n(r.events_sent):>10} {_n(r.events_received):>10} {_n(r.loss):>8} {pct:>8} "
            f"{_n(r.e2sar_lost):>10} {gbps:>7}"
        )
    return "\n".join(lines) + "\n"


def _n(value: int | None) -> str:
    return "?" if value is None else str(value)
