"""E2SAR reports: a CSV with one row per rate (`results-e2sar.csv`) and a terminal table.

Loss is shown both ways: `loss` (events sent minus events received, the honest count) and
`e2sar_lost` (E2SAR's own counters, which miss events none of whose fragments arrived).
A failed or skipped pair has its reason in `error` and empty figures.
"""

from __future__ import annotations

import csv
import io

from results.model import Results
from results.textable import new_table, render

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
    """A row per rate for the terminal, then why the pairs without figures have none; '' when
    the run had no E2SAR pairs."""
    if not results.e2sar_cases:
        return ""
    table = new_table("E2SAR rate", "sent", "received", "loss", "loss %", "e2sar lost", "Gbps", "status")
    table.columns[-1].justify = "left"
    reasons = []
    for r in results.e2sar_cases:
        if not r.ok:
            status = "SKIPPED" if r.skipped else "FAIL"
            table.add_row(r.rate_key, *["-"] * 6, status)
            reasons.append(f"  {r.case_id} {status.lower()}: {r.error}")
            continue
        pct = "?" if r.loss_percent is None else f"{r.loss_percent:.3f}"
        gbps = "-" if r.achieved_gbps is None else f"{r.achieved_gbps:.3f}"
        table.add_row(
            r.rate_key, _n(r.events_sent), _n(r.events_received), _n(r.loss), pct, _n(r.e2sar_lost), gbps, "ok"
        )
    return render(table) + "".join(f"{line}\n" for line in reasons)


def _n(value: int | None) -> str:
    return "?" if value is None else str(value)
