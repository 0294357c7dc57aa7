"""The E2SAR parser on both versions' formats, loss from both sides, failures with exit 0, and the CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from e2sar_samples import (
    RECEIVER_014,
    RECEIVER_014_LOSS,
    RECEIVER_03,
    RECEIVER_03_FAILED,
    SENDER_014,
    SENDER_014_FAILED,
    SENDER_014_WARNING,
    SENDER_03,
)
from results_inprocess import results_cli

from results.collect import collect
from results.e2sar import number, parse_e2sar_pair, parse_receiver, parse_sender
from results.errors import UnknownOutputError
from results.report_e2sar import e2sar_csv, e2sar_table
from spec.model import Stack
from spec.plan import build_plan

ROOT = Path(__file__).resolve().parents[2]


def test_thousands_separators_are_stripped() -> None:
    assert number("10,000") == 10000
    assert number("1,000,000") == 1_000_000
    assert number("2,834,112") == 2834112
    assert number("1.445") == 1.445


def test_014_sender_and_receiver() -> None:
    sender = parse_sender(SENDER_014)
    assert sender.ok and sender.version == "0.1.4"
    assert (sender.events, sender.event_size, sender.mtu, sender.rate_gbps) == (10000, 512, 512, 0.1)
    assert (sender.sent, sender.sent_unit, sender.send_errors) == (10000, "frames", 0)
    receiver = parse_receiver(RECEIVER_014)
    assert receiver.ok and receiver.version == "0.1.4"
    assert receiver.ports == (19522, 19522)
    assert receiver.blocks == 2
    # The last Stats block is the result, not the first.
    assert (receiver.events_received, receiver.events_lost, receiver.events_mangled) == (9871, 3, 0)


def test_03_sender_and_receiver_with_the_stats_block_on_stderr() -> None:
    sender = parse_sender(SENDER_03)
    assert sender.ok and sender.version == "0.3.1"
    assert (sender.events, sender.sent, sender.sent_unit, sender.mtu) == (1_000_000, 1_000_000, "packets", 1500)
    assert sender.rate_gbps == 1.5
    assert sender.elapsed_us == 2834112
    assert (sender.throughput_gbps, sender.goodput_gbps) == (1.445, 1.156)
    receiver = parse_receiver(RECEIVER_03)
    assert receiver.ok and receiver.version == "0.3.1"
    assert receiver.ports == (19522, 19525)
    assert receiver.blocks == 2
    assert receiver.events_received == 992_990
    assert (receiver.lost_reassembly, receiver.lost_enqueue, receiver.events_mangled) == (4, 6, 1)
    assert (receiver.total_bytes, receiver.total_packets) == (508_416_000, 993_000)
    assert receiver.port_received == {19522: 248_250, 19523: 248_250, 19524: 248_250, 19525: 248_250}


def test_the_03_block_is_found_without_the_prefix_too() -> None:
    """0.2.x printed the same block on stdout, unprefixed."""
    receiver = parse_receiver(RECEIVER_03.replace("12: [14:03:07.123456] {info} Stats:", "Stats:"))
    assert receiver.ok and receiver.events_received == 992_990


def test_loss_is_counted_from_both_sides() -> None:
    figures = parse_e2sar_pair(SENDER_014_WARNING, RECEIVER_014_LOSS)
    assert figures.ok
    assert figures.events_sent == 10000
    assert figures.events_received == 8800
    assert figures.loss == 1200
    assert figures.loss_percent == pytest.approx(12.0)
    assert figures.e2sar_lost == 2  # E2SAR's own count misses events none of whose fragments arrived
    assert figures.sent == 9500
    assert figures.note and "9500 of 10000" in figures.note
    figures03 = parse_e2sar_pair(SENDER_03, RECEIVER_03)
    assert figures03.loss == 1_000_000 - 992_990
    assert figures03.e2sar_lost == 10
    assert figures03.achieved_gbps == 1.445


@pytest.mark.parametrize(
    ("sender", "receiver", "why"),
    [
        (SENDER_014, RECEIVER_03_FAILED, "receiver: Unable to create reassembler"),
        (SENDER_014_FAILED, RECEIVER_014, "sender: Segmenter encountered an error"),
        (SENDER_014.replace("Completed, 10,000 frames sent, 0 errors\n", ""), RECEIVER_014, "did not complete"),
        (SENDER_014, "Control plane will be OFF\nWill run for 300 sec\n", "no Stats block"),
    ],
)
def test_a_failed_run_is_read_from_the_text(sender: str, receiver: str, why: str) -> None:
    figures = parse_e2sar_pair(sender, receiver)
    assert not figures.ok
    assert figures.error and why in figures.error, figures.error


def test_text_no_e2sar_wrote_is_refused() -> None:
    with pytest.raises(UnknownOutputError):
        parse_sender("sh: e2sar_perf: not found\n")
    with pytest.raises(UnknownOutputError):
        parse_receiver("")
    figures = parse_e2sar_pair("sh: e2sar_perf: not found\n", RECEIVER_014)
    assert not figures.ok and figures.error and "unreadable output" in figures.error


def _plan_two_rates() -> tuple[Stack, list[str]]:
    stack = Stack.model_validate({"suites": {"e2sar": {"enabled": True, "rates_gbps": [0.1, 1.5], "duration_s": 20}}})
    return stack, [c.id for c in build_plan(stack).e2sar]


def test_collect_gives_every_rate_its_figures_or_its_reason() -> None:
    stack, ids = _plan_two_rates()
    assert ids == ["e2sar-100m", "e2sar-1500m"]
    files = {
        "index.tsv": "e2sar-100m-receiver\t2025-01-01T00:00:00Z\t2025-01-01T00:00:20Z\t0\t1\n"
        "e2sar-100m-sender\t2025-01-01T00:00:02Z\t2025-01-01T00:00:03Z\t0\t1\n",
        "node-a/e2sar-100m-sender.txt": SENDER_014_WARNING,
        "node-b/e2sar-100m-receiver.txt": RECEIVER_014_LOSS,
    }
    results = collect(build_plan(stack), files)
    first, second = results.e2sar_cases
    assert first.ok and first.loss == 1200 and first.sender_exit == 0
    assert not second.ok and second.error and "not run" in second.error
    out = results.e2sar()
    assert set(out) == {"0.1 Gbps", "1.5 Gbps"}
    assert out["0.1 Gbps"]["loss"] == 1200 and out["0.1 Gbps"]["e2sar_lost"] == 2
    assert out["1.5 Gbps"]["ok"] is False
    rows = list(csv.DictReader(io.StringIO(e2sar_csv(results))))
    assert [r["rate_gbps"] for r in rows] == ["0.1", "1.5"]
    assert rows[0]["events_sent"] == "10000" and rows[0]["loss"] == "1200" and rows[1]["error"]
    assert e2sar_table(results).splitlines()[:4] == [  # a snapshot: the columns line up
        "E2SAR rate    sent   received   loss   loss %   e2sar lost   Gbps   status",
        "─" * 74,
        "0.1 Gbps     10000       8800   1200   12.000            2      -   ok",
        "1.5 Gbps         -          -      -        -            -      -   FAIL",
    ]
    assert e2sar_table(results).splitlines()[4].startswith("  e2sar-1500m fail: e2sar-1500m-sender.txt: not run")
    assert json.loads(results.model_dump_json())["e2sar_cases"][0]["loss"] == 1200


def test_the_cli_reads_the_seeds_two_logs(tmp_path: Path) -> None:
    sender, receiver = tmp_path / "sender.log", tmp_path / "receiver.log"
    sender.write_text(SENDER_03)
    receiver.write_text(RECEIVER_03)
    done = subprocess.run(
        [sys.executable, "-m", "results", "e2sar", str(sender), str(receiver)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["events_sent"] == 1_000_000 and figures["events_received"] == 992_990
    assert figures["loss"] == 7010 and figures["e2sar_lost"] == 10
    receiver.write_text(RECEIVER_03_FAILED)
    done = results_cli("e2sar", str(sender), str(receiver))  # the rest in this process
    assert done.returncode == 0 and json.loads(done.stdout)["ok"] is False
    done = results_cli("e2sar", str(sender), str(tmp_path / "missing.log"))
    assert done.returncode == 2 and "missing.log" in done.stderr and "\n" not in done.stderr.strip()
    # A file no E2SAR wrote, or a folder: the line names the file and the role it failed as.
    other = tmp_path / "netperf.txt"
    other.write_text("MIGRATED TCP STREAM TEST from 0.0.0.0 (0.0.0.0) port 0 AF_INET\nTHROUGHPUT=5\n")
    for args, named in (
        ((other, receiver), f"{other}: not an e2sar_perf sender log"),
        ((sender, other), f"{other}: not an e2sar_perf receiver log"),
        ((sender, tmp_path), f"{tmp_path}: cannot read"),
    ):
        done = results_cli("e2sar", *map(str, args))
        assert done.returncode == 2 and done.stderr.startswith(named), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("sender_text", "receiver_text"),
    [(SENDER_03, RECEIVER_03), (SENDER_014, RECEIVER_014), (SENDER_014_FAILED, RECEIVER_03_FAILED)],
)
def test_the_cli_refuses_the_two_logs_swapped(tmp_path: Path, sender_text: str, receiver_text: str) -> None:
    """Issue 19: swapped logs gave exit 0 and {"ok": false}; docs/results.md's exit table says 2, one line."""
    sender, receiver = tmp_path / "sender.log", tmp_path / "receiver.log"
    sender.write_text(sender_text)
    receiver.write_text(receiver_text)
    assert results_cli("e2sar", str(sender), str(receiver)).returncode == 0
    done = results_cli("e2sar", str(receiver), str(sender))
    assert (done.returncode, done.stdout) == (2, ""), done.stdout
    assert done.stderr == (
        f"{receiver}: not an e2sar_perf sender log: it is a receiver's log (the two logs swapped?)\n"
    )
    # The receiver's log alone in the receiver's place, with a sender's log as the receiver: named too.
    done = results_cli("e2sar", str(sender), str(sender))
    assert done.returncode == 2
    assert done.stderr == f"{sender}: not an e2sar_perf receiver log: it is a sender's log (the two logs swapped?)\n"
