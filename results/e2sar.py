"""E2SAR `e2sar_perf` output -> figures, for 0.1.4 (the seed's image) and 0.3.x.

A sender log and a receiver log are read apart (`parse_sender`, `parse_receiver`) and put
together by `e2sar_figures`. The formats, as E2SAR's `bin/e2sar_perf.cpp` prints them:
- the version comes from the `E2SAR Version` line, else from the shape of the text;
- numbers may carry thousands separators (`10,000`);
- 0.3.x prints the receiver's periodic `Stats:` block on stderr with a logging prefix on
  its first line only (`12: [14:03:07.123456] {info} Stats:`); logs here hold stdout and
  stderr together, so the block is found wherever it is;
- the receiver has no summary: the last `Stats:` block is the result;
- e2sar_perf exits 0 even when it failed: failure is read from the text.
Loss is counted from both sides (events sent minus events received), since E2SAR's own
"Lost" counters miss events none of whose fragments arrived; both are reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from results.errors import UnknownOutputError
from results.index import IndexLine
from spec.plan import E2sarCase
from spec.runner import TIMEOUT_EXIT

_FAILURE = re.compile(r"encountered an error|Unable to create", re.IGNORECASE)
_NUM = r"(-?[\d,]*\.?\d+(?:[eE][-+]?\d+)?)"
_VERSION = re.compile(r"E2SAR Version:\s*(\S+)")
_STATS = re.compile(r"(?:^|\s)Stats:\s*$")
_COUNTER = re.compile(r"^\s+([A-Za-z][A-Za-z /()]*?):\s*" + _NUM + r"\s*$")
_COMPLETED = re.compile(r"Completed,\s*" + _NUM + r"\s+(frames|packets) sent,\s*" + _NUM + r"\s+errors")
# What only one role prints: a sender its rate, its buffers and its frame count; a receiver its ports and Stats.
_SENDER_MARK = re.compile(
    r"^Sending (?:average )?bit rate is|^Sending [\d,]+ event buffers|^Completed,.* sent,", re.MULTILINE
)
_RECEIVER_MARK = re.compile(r"^Receiving on ports|(?:^|\s)Stats:\s*$|^\s+Events Received:", re.MULTILINE)
_FEWER = re.compile(r"Fewer (?:frames|packets) than expected have been sent \(" + _NUM + r" of " + _NUM + r"\)")


def number(text: str) -> float:
    """An e2sar_perf number: thousands separators stripped."""
    return float(text.replace(",", ""))


def _int(text: str) -> int:
    return int(number(text))


class E2sarSender(BaseModel):
    """What a sender log says."""

    model_config = ConfigDict(frozen=True)

    version: str | None = None
    ok: bool
    error: str | None = None
    events: int | None = None
    event_size: int | None = None
    mtu: int | None = None
    rate_gbps: float | None = None
    sent: int | None = None
    sent_unit: str | None = None
    send_errors: int | None = None
    expected: int | None = None
    last_error: str | None = None
    elapsed_us: int | None = None
    throughput_gbps: float | None = None
    goodput_gbps: float | None = None


class E2sarReceiver(BaseModel):
    """What a receiver log says; the counters are those of the last `Stats:` block."""

    model_config = ConfigDict(frozen=True)

    version: str | None = None
    ok: bool
    error: str | None = None
    ports: tuple[int, int] | None = None
    blocks: int = 0
    events_received: int | None = None
    events_mangled: int | None = None
    events_lost: int | None = None
    lost_reassembly: int | None = None
    lost_enqueue: int | None = None
    data_errors: int | None = None
    grpc_errors: int | None = None
    total_bytes: int | None = None
    total_packets: int | None = None
    port_received: dict[int, int] | None = None


class E2sarFigures(BaseModel):
    """One E2SAR run, both sides: the figures a report shows."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    error: str | None = None
    version: str | None = None
    events_sent: int | None = None
    events_received: int | None = None
    loss: int | None = None
    loss_percent: float | None = None
    e2sar_lost: int | None = None
    e2sar_mangled: int | None = None
    data_errors: int | None = None
    sent: int | None = None
    sent_unit: str | None = None
    send_errors: int | None = None
    rate_gbps: float | None = None
    achieved_gbps: float | None = None
    note: str | None = None


def looks_like_e2sar(text: str) -> bool:
    return bool(
        _VERSION.search(text)
        or "Control plane will be" in text
        or "Receiving on ports" in text
        or re.search(r"^Sending bit rate is|^Sending average bit rate is", text, re.MULTILINE)
    )


def _failure(text: str) -> str | None:
    for line in text.splitlines():
        if _FAILURE.search(line):
            return line.strip()
    return None


def _version(text: str) -> str | None:
    if m := _VERSION.search(text):
        return m.group(1)
    if "Control plane will be" in text:
        return "0.1.4"
    if re.search(r"\{\w+\} Stats:|Events Lost in reassembly|^Port Stats:|^Control plane:", text, re.MULTILINE):
        return "0.3.x"
    return None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:120] if lines else "empty output"


def parse_sender(text: str) -> E2sarSender:
    """A sender's log; UnknownOutputError when no e2sar_perf sender wrote it."""
    if not text.strip():
        raise UnknownOutputError("empty output")
    completed = _COMPLETED.search(text)
    if not completed and not looks_like_e2sar(text):
        raise UnknownOutputError(f"no e2sar_perf sender output (ends {_last_line(text)!r})")
    if _RECEIVER_MARK.search(text) and not _SENDER_MARK.search(text):
        raise UnknownOutputError("it is a receiver's log (the two logs swapped?)")
    fields: dict[str, object] = {"version": _version(text)}
    integers = {
        "events": r"Sending " + _NUM + r" event buffers",
        "event_size": r"Event size is " + _NUM + r" bytes",
        "mtu": r"Using MTU " + _NUM,
        "elapsed_us": r"Elapsed usecs:\s*" + _NUM,
    }
    floats = {
        "rate_gbps": r"Sending (?:average )?bit rate is:?\s*" + _NUM + r" Gbps",
        "throughput_gbps": r"Estimated effective throughput \(Gbps\):\s*" + _NUM,
        "goodput_gbps": r"Estimated goodput \(Gbps\):\s*" + _NUM,
    }
    for table, convert in ((integers, _int), (floats, number)):
        for key, pattern in table.items():
            if m := re.search(pattern, text):
                fields[key] = convert(m.group(1))
    if m := _FEWER.search(text):
        fields["expected"] = _int(m.group(2))
    if m := re.search(r"Last error encountered:\s*(.+)", text):
        fields["last_error"] = m.group(1).strip()
    failure = _failure(text)
    if completed:
        fields.update(sent=_int(completed.group(1)), sent_unit=completed.group(2), send_errors=_int(completed.group(3)))
    if failure:
        return E2sarSender.model_validate({**fields, "ok": False, "error": failure})
    if not completed:
        return E2sarSender.model_validate(
            {**fields, "ok": False, "error": f"the sender did not complete: {_last_line(text)}"}
        )
    return E2sarSender.model_validate({**fields, "ok": True})


_RECEIVER_KEYS = {
    "Events Received": "events_received",
    "Events Mangled": "events_mangled",
    "Events Lost": "events_lost",
    "Events Lost in reassembly": "lost_reassembly",
    "Events Lost in enqueue": "lost_enqueue",
    "Data Errors": "data_errors",
    "gRPC Errors": "grpc_errors",
    "Total Bytes": "total_bytes",
    "Total Packets": "total_packets",
}


def parse_receiver(text: str) -> E2sarReceiver:
    """A receiver's log; UnknownOutputError when no e2sar_perf receiver wrote it."""
    if not text.strip():
        raise UnknownOutputError("empty output")
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _STATS.search(line) and "Port Stats" not in line]
    if not starts and not looks_like_e2sar(text):
        raise UnknownOutputError(f"no e2sar_perf receiver output (ends {_last_line(text)!r})")
    if _SENDER_MARK.search(text) and not _RECEIVER_MARK.search(text):
        raise UnknownOutputError("it is a sender's log (the two logs swapped?)")
    fields: dict[str, object] = {"version": _version(text), "blocks": len(starts)}
    if m := re.search(r"Receiving on ports:?\s*" + r"(\d+):(\d+)", text):
        fields["ports"] = (int(m.group(1)), int(m.group(2)))
    if starts:
        for line in lines[starts[-1] + 1 :]:
            counter = _COUNTER.match(line)
            if not counter:
                if line.strip() and not line[:1].isspace():
                    break  # the block ends at the first line that is not tab-indented
                continue
            key = _RECEIVER_KEYS.get(counter.group(1).strip())
            if key:
                fields[key] = _int(counter.group(2))
    ports = {int(p): _int(n) for p, n in re.findall(r"^\s*Port:\s*(\d+)\s+Received:\s*" + _NUM, text, re.MULTILINE)}
    if ports:
        fields["port_received"] = ports
    failure = _failure(text)
    if failure:
        return E2sarReceiver.model_validate({**fields, "ok": False, "error": failure})
    if not starts or fields.get("events_received") is None:
        why = f"no Stats block with Events Received: {_last_line(text)}"
        return E2sarReceiver.model_validate({**fields, "ok": False, "error": why})
    return E2sarReceiver.model_validate({**fields, "ok": True})


def e2sar_figures(sender: E2sarSender, receiver: E2sarReceiver) -> E2sarFigures:
    """Both sides put together: loss as sent minus received, E2SAR's own counters beside it."""
    error = "; ".join(f"{side}: {r.error}" for side, r in (("sender", sender), ("receiver", receiver)) if not r.ok)
    sent, received = sender.events, receiver.events_received
    loss = sent - received if sent is not None and received is not None else None
    own = [v for v in (receiver.events_lost, receiver.lost_reassembly, receiver.lost_enqueue) if v is not None]
    achieved = sender.throughput_gbps
    note = None
    if achieved is None and sender.ok:
        note = f"E2SAR {sender.version or '?'} prints no send time: no achieved rate"
    if sender.expected is not None and sender.sent is not None and sender.sent < sender.expected:
        warned = f"sender sent {sender.sent} of {sender.expected} {sender.sent_unit or 'frames'} expected"
        note = f"{note}; {warned}" if note else warned
    return E2sarFigures(
        ok=not error,
        error=error or None,
        version=sender.version or receiver.version,
        events_sent=sent,
        events_received=received,
        loss=loss,
        loss_percent=round(100.0 * loss / sent, 6) if loss is not None and sent else None,
        e2sar_lost=sum(own) if own else None,
        e2sar_mangled=receiver.events_mangled,
        data_errors=receiver.data_errors,
        sent=sender.sent,
        sent_unit=sender.sent_unit,
        send_errors=sender.send_errors,
        rate_gbps=sender.rate_gbps,
        achieved_gbps=achieved,
        note=note,
    )


def parse_e2sar_pair(sender_text: str, receiver_text: str) -> E2sarFigures:
    """Figures of a sender log and a receiver log; an unreadable side is a failed side, not an exception."""
    try:
        sender = parse_sender(sender_text)
    except UnknownOutputError as exc:
        sender = E2sarSender(ok=False, error=f"unreadable output: {exc}")
    try:
        receiver = parse_receiver(receiver_text)
    except UnknownOutputError as exc:
        receiver = E2sarReceiver(ok=False, error=f"unreadable output: {exc}")
    return e2sar_figures(sender, receiver)


class E2sarResult(E2sarFigures):
    """One planned E2SAR pair (one rate): where it ran and its figures, or why it has none."""

    case_id: str
    rate_gbps_planned: float
    sender_workload: str
    receiver_workload: str
    sender_log: str
    receiver_log: str
    sender_exit: int | None = None
    receiver_exit: int | None = None
    skipped: bool = False

    @property
    def rate_key(self) -> str:
        """The key of this rate in the `e2sar` stack output: '0.1 Gbps'."""
        return f"{self.rate_gbps_planned:g} Gbps"


def e2sar_result(case: E2sarCase, index: Mapping[str, IndexLine], logs: Mapping[str, str]) -> E2sarResult:
    """One pair's result from the index and the log folder's files (base name -> text)."""
    ident = {
        "case_id": case.id,
        "rate_gbps_planned": case.rate_gbps,
        "sender_workload": case.sender,
        "receiver_workload": case.receiver,
        "sender_log": case.sender_log,
        "receiver_log": case.receiver_log,
    }
    lines = {role: index.get(f"{case.id}-{role}") for role in ("sender", "receiver")}
    ident["sender_exit"] = lines["sender"].exit_code if lines["sender"] else None
    ident["receiver_exit"] = lines["receiver"].exit_code if lines["receiver"] else None
    texts = {"sender": logs.get(case.sender_log), "receiver": logs.get(case.receiver_log)}
    problems: list[str] = []
    for role, name in (("sender", case.sender_log), ("receiver", case.receiver_log)):
        line, text = lines[role], texts[role]
        if line is None and text is None:
            problems.append(f"{name}: not run (no index line, no log)")
        elif text is None:
            problems.append(f"{name}: no log")
        elif line is not None and line.exit_code == TIMEOUT_EXIT:
            problems.append(f"{name}: timed out (exit {TIMEOUT_EXIT})")
    if problems and all("not run" in p for p in problems):
        return E2sarResult.model_validate({**ident, "ok": False, "error": "; ".join(problems)})
    figures = parse_e2sar_pair(texts["sender"] or "", texts["receiver"] or "")
    if problems:
        error = "; ".join([*problems, *([figures.error] if figures.error else [])])
        return E2sarResult.model_validate({**figures.model_dump(), **ident, "ok": False, "error": error})
    return E2sarResult.model_validate({**figures.model_dump(), **ident})
