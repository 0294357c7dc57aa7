"""`python -m results` as a user runs it: exit codes, stderr lines, JSON keys, reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from e2sar_samples import RECEIVER_014, SENDER_014
from results_inprocess import results_cli
from results_testkit import DATA, EXPECTED_FAILURES, ROOT, synthetic_folder


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m results ARGS`, in this process; `run_command` runs the real command."""
    return results_cli(*args)


def run_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "results", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("iperf3-3.12-tcp-mss536.json", {"tool", "ok", "throughput_mbps", "retransmits"}),
        ("iperf3-3.12-udp-unlimited-len1400.json", {"tool", "ok", "throughput_mbps", "loss_percent", "jitter_ms"}),
        ("netperf-2.7-tcp-stream-classic-tbf50mbit.txt", {"tool", "ok", "throughput_mbps"}),
        ("netperf-2.7-tcp-rr-keyval.txt", {"tool", "ok", "transactions_per_s", "latency_us"}),
    ],
)
def test_parse_prints_figures(name: str, keys: set[str]) -> None:
    done = run("parse", str(DATA / name))
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert keys <= set(figures)
    assert figures["ok"] is True and "error" not in figures
    assert figures["tool"] == name.split("-")[0]
    if "latency_us" in keys:
        assert {"p50", "p90", "p99", "mean", "min", "max"} <= set(figures["latency_us"])


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("iperf3-3.12-server-terminated.json", "the server has terminated"),
        ("iperf3-3.12-refused.json", "Connection refused"),
        ("netperf-2.7-no-netserver.txt", "establish control"),
    ],
)
def test_parse_of_a_failed_run_exits_0_and_says_why(name: str, words: str) -> None:
    done = run("parse", str(DATA / name))
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["ok"] is False and words in figures["error"]
    assert "throughput_mbps" not in figures


def test_parse_of_no_tool_output_is_one_stderr_line(tmp_path: Path) -> None:
    garbage = tmp_path / "p1-iperf3-tcp-mss96.json"
    garbage.write_bytes(b"\x00\xffSegmentation fault\n")
    for file in (garbage, DATA / "iperf3-3.12-tcp-mss536.ss", tmp_path / "missing.json"):
        done = run("parse", str(file))
        assert done.returncode == 2
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{file}: ")


def test_report_writes_the_reports(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.lab.yaml"
    stack.write_text(
        "config:\n"
        "  meshperf:run_id: r7\n"
        "  meshperf:suites:\n"
        "    netperf:\n"
        "      paths: [1, 2, 3, 5]\n"
        "      mss: [536, 1376]\n"
        "      udp_length: 1400\n"
        "      duration_s: 2\n"
    )
    logs = tmp_path / "logs"
    for name, text in synthetic_folder().items():
        (logs / name).parent.mkdir(parents=True, exist_ok=True)
        (logs / name).write_text(text)
    out = tmp_path / "out"
    done = run("report", str(logs), "--stack", str(stack), "--out", str(out), "--content-hash", "0123456789abcdef")
    # The synthetic folder holds failed cases on purpose: the reports are written, and the exit says so.
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"{len(EXPECTED_FAILURES)} cases failed: see {out / 'results.json'} for why\n"
    assert done.stdout.startswith(f"meshperf results: {stack}, run r7 (0123456789ab)")
    assert sorted(p.name for p in out.iterdir()) == [
        "latency.png",
        "latency.svg",
        "report.html",
        "results-tidy.csv",
        "results.csv",
        "results.json",
        "throughput-vs-mss.png",
        "throughput-vs-mss.svg",
    ]
    assert (out / "results.csv").read_text().splitlines()[0].endswith("; Maximum; 536; 1376;")
    saved = json.loads((out / "results.json").read_text())
    assert saved["run_id"] == "r7"
    assert saved["run"]["label"] == "run r7 (0123456789ab)"
    assert saved["run"]["durations"] == {t: 2.0 for t in ("iperf3_tcp", "iperf3_udp", "tcp_stream", "tcp_rr")}
    assert saved["run"]["mss"] == [536, 1376] and saved["run"]["kernel"] is None
    as_json = run("report", str(logs), "--stack", str(stack), "--out", str(out), "--json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["run"]["label"] == "run r7"


def test_report_with_a_bad_stack_is_one_line(tmp_path: Path) -> None:
    done = run_command("report", str(tmp_path), "--stack", str(tmp_path / "Pulumi.none.yaml"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1


def test_report_of_a_folder_without_valid_logs_fails(tmp_path: Path) -> None:
    """Every case failed (logs no tool wrote): reports written, exit 1; an empty folder is bad input."""
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in synthetic_folder():
        (logs / name).parent.mkdir(parents=True, exist_ok=True)
        (logs / name).write_text("Segmentation fault\n")
    # kind-local plans other MSS points than the synthetic folder's: those logs are left out on request.
    done = run("report", str(logs), "--stack", "kind-local", "--ignore-unplanned")
    assert done.returncode == 1, done.stderr
    assert "cases failed" in done.stderr and (tmp_path / "report" / "results.json").exists()
    assert not (logs / "results.json").exists(), "reports go beside the log folder, never into it"
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run("report", str(empty), "--stack", "kind-local")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"no raw logs in {empty}: ") and done.stderr.count("\n") == 1


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `root`: its bytes and its mtime, to show that nothing changed."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_report_of_a_run_folder_without_raw_logs_refuses_and_changes_nothing(tmp_path: Path) -> None:
    """Issue 19: a run folder with its results.json (all ok), index and env files but no raw log: a
    report would call every case failed and overwrite the good figures. It refuses, in one line."""
    from results.collect import collect
    from results.logs import read_log_folder
    from spec.load import load_stack
    from spec.plan import build_plan

    good = collect(build_plan(load_stack("kind-mesh")), read_log_folder(LAB_RUN))
    run_folder = tmp_path / "run"
    run_folder.mkdir()
    (run_folder / "results.json").write_text(good.model_dump_json())
    (run_folder / "results.csv").write_text("the seed's csv\n")
    (run_folder / "index.tsv").write_text((LAB_RUN / "index.tsv").read_text())
    (run_folder / "env-w1.tsv").write_text("kernel\t6.1\n")
    (run_folder / "lab").mkdir()
    (run_folder / "lab" / "topology.txt").write_text("w1 w2 w3\n")
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "results.json").write_text(good.model_dump_json())
    before = _tree(tmp_path)
    for out in ((), ("--out", str(run_folder))):
        done = run("report", str(run_folder), "--stack", "kind-mesh", *out)
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        assert done.stderr == (f"no raw logs in {run_folder}: no <case-id>.<ext> of a case stack kind-mesh plans\n"), (
            done.stderr
        )
        assert _tree(tmp_path) == before


def test_report_of_another_stacks_logs_names_what_it_would_drop(tmp_path: Path) -> None:
    """kind-mesh's logs reported as kind-local: its 24 path-6 cases are named, not silently dropped."""
    from results.logs import planned_ids
    from spec.load import load_stack
    from spec.plan import build_plan

    # The lab run of kind-mesh as shipped: its files of kind-mesh's plan (the fixture also holds host paths).
    logs = tmp_path / "logs"
    logs.mkdir()
    ids = planned_ids(build_plan(load_stack("kind-mesh")))
    for file in LAB_RUN.iterdir():
        if file.name.split(".")[0] in ids or file.name == "index.tsv":
            (logs / file.name).write_bytes(file.read_bytes())
    out = tmp_path / "out"
    done = run("report", str(logs), "--stack", "kind-local", "--out", str(out))
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr == (
        f"{logs}: logs of 24 cases that stack kind-local does not plan (e.g. p6-iperf3-tcp-mss1056.err):"
        " report with the stack that ran them, or --ignore-unplanned\n"
    )
    assert not out.exists()
    kept = run("report", str(logs), "--stack", "kind-local", "--out", str(out), "--ignore-unplanned", "--json")
    # The one failure is the E2SAR pair (the lab run had no e2sar_perf); every netperf case measured.
    assert kept.returncode == 1, kept.stderr
    assert kept.stderr.splitlines()[0] == (
        f"{logs}: left out logs of 24 cases that stack kind-local does not plan (e.g. p6-iperf3-tcp-mss1056.err)"
        " (--ignore-unplanned)"
    )
    cases = json.loads(kept.stdout)["cases"]
    assert {c["path"] for c in cases} == {1, 2, 3, 4, 5} and all(c["ok"] for c in cases) and len(cases) == 120
    # The stack that ran them reads every one of them, with no word about others.
    mesh = run("report", str(logs), "--stack", "kind-mesh", "--out", str(out), "--json")
    assert "does not plan" not in mesh.stderr
    cases = json.loads(mesh.stdout)["cases"]
    assert len(cases) == 144 and all(c["ok"] for c in cases)


def test_report_out_that_cannot_be_written_is_one_line_before_any_work(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "index.tsv").write_text("")
    (logs / "p1-tcp-rr.txt").write_text("")  # a raw log of kind-local's plan
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out, why in (
        (blocker, f"--out {blocker}: is a file, not a folder"),
        (blocker / "sub", f"--out {blocker / 'sub'}: cannot write there: Not a directory"),
        (Path("/proc/meshperf"), "--out /proc/meshperf: cannot write there: "),
    ):
        done = run("report", str(logs), "--stack", "kind-local", "--out", str(out))
        assert done.returncode == 2 and done.stderr.startswith(why), done.stderr
        assert done.stderr.count("\n") == 1 and done.stdout == ""


LAB_RUN = ROOT / "tests" / "components" / "fixtures" / "kind-mesh-run"


def _lab_outputs(stack: str, receiver_text: str = RECEIVER_014) -> dict[str, dict[str, object]]:
    """The `throughput`, `failures` and `e2sar` outputs of the real lab run of kind-mesh (as `--json`
    prints them), its E2SAR pairs given E2SAR 0.1.4's logs (`receiver_text` for every receiver)."""
    from results.collect import collect
    from results.logs import read_log_folder
    from spec.load import load_stack
    from spec.plan import build_plan

    plan = build_plan(load_stack(stack))
    files = read_log_folder(LAB_RUN)
    for pair in plan.e2sar:
        files[pair.sender_log] = SENDER_014
        files[pair.receiver_log] = receiver_text
    results = collect(plan, files)
    return json.loads(json.dumps({"throughput": results.throughput(), "failures": {}, "e2sar": results.e2sar()}))


def test_check_outputs_of_a_run_with_every_path_measured_and_one_lost(tmp_path: Path) -> None:
    """The kind workflow's check, on the outputs of a real lab run of kind-mesh (as `--json` prints them)."""
    outputs = _lab_outputs("kind-mesh")
    files = {name: tmp_path / f"{name}.json" for name in ("throughput", "failures", "e2sar")}

    def check(
        throughput_doc: object, failures_doc: object, stack: str = "kind-mesh", e2sar_doc: object = outputs["e2sar"]
    ) -> subprocess.CompletedProcess[str]:
        for name, doc in (("throughput", throughput_doc), ("failures", failures_doc), ("e2sar", e2sar_doc)):
            files[name].write_text(json.dumps(doc))
        return run("check-outputs", "--stack", stack, *(str(files[n]) for n in ("throughput", "failures", "e2sar")))

    throughput = outputs["throughput"]
    done = check(throughput, {})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "0 failures, 0 paths without a figure, 0 of 3 E2SAR rates failed\n"
    label = "5 iperf TCP. Remote Cluster using Pod IP"
    lost = check({**throughput, label: None}, {"p6-iperf3-tcp-mss96": "p6-iperf3-tcp-mss96.json: exit 1"})
    assert lost.returncode == 1
    assert lost.stderr.splitlines() == [
        "failed: p6-iperf3-tcp-mss96: p6-iperf3-tcp-mss96.json: exit 1",
        f"no figure: {label}",
    ]
    # kind-local measures no path 6: its outputs need no figure there.
    local_e2sar = _lab_outputs("kind-local")["e2sar"]
    local = check({k: v for k, v in throughput.items() if "Remote Cluster" not in k}, {}, "kind-local", local_e2sar)
    assert local.returncode == 0, local.stderr
    bad = run(
        "check-outputs",
        "--stack",
        "kind-local",
        str(tmp_path / "none.json"),
        str(files["failures"]),
        str(files["e2sar"]),
    )
    assert bad.returncode == 2 and "none.json" in bad.stderr and bad.stderr.count("\n") == 1


def test_check_outputs_fails_an_e2sar_run_that_lost_every_event(tmp_path: Path) -> None:
    """Issue 21: check-outputs read only `throughput` and `failures`, so an E2SAR run that lost every
    event left the workflow green. Every planned rate must have a pair that received events."""
    nothing = RECEIVER_014.replace("Events Received: 9,871", "Events Received: 0")
    outputs = _lab_outputs("kind-mesh", receiver_text=nothing)
    assert {v["ok"] for v in outputs["e2sar"].values()} == {True}  # the pairs ran: E2SAR itself saw no failure
    for name, doc in outputs.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
    args = [str(tmp_path / f"{n}.json") for n in ("throughput", "failures", "e2sar")]
    done = run("check-outputs", "--stack", "kind-mesh", *args)
    assert done.returncode == 1, done.stdout
    assert done.stdout == "0 failures, 0 paths without a figure, 3 of 3 E2SAR rates failed\n"
    assert done.stderr.splitlines()[0] == "E2SAR lost every event: 0.1 Gbps (e2sar-100m): 0 of 10000 received"
    # A rate missing from the output, or a failed pair, fails it too.
    e2sar = dict(_lab_outputs("kind-mesh")["e2sar"])  # every event received
    del e2sar["0.5 Gbps"]
    e2sar["1 Gbps"] = {"ok": False, "error": "e2sar-1000m-receiver.txt: no log"}
    (tmp_path / "e2sar.json").write_text(json.dumps(e2sar))
    done = run("check-outputs", "--stack", "kind-mesh", *args)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "no E2SAR figure: 0.5 Gbps (e2sar-500m)",
        "E2SAR failed: 1 Gbps (e2sar-1000m): e2sar-1000m-receiver.txt: no log",
    ]
    # A stack that runs E2SAR needs its `e2sar` output: one line, exit 2.
    done = run("check-outputs", "--stack", "kind-mesh", *args[:2])
    assert (done.returncode, done.stderr) == (
        2,
        "check-outputs: stack kind-mesh runs E2SAR: give its `e2sar` output as a third file\n",
    )


def test_check_outputs_names_a_file_that_is_not_json(tmp_path: Path) -> None:
    """Issue 19: `Expecting value: line 1 column 1 (char 0)`, with no file name."""
    good = tmp_path / "good.json"
    good.write_text("{}")
    for broken in ("", "not json", "{"):
        bad = tmp_path / "bad.json"
        bad.write_text(broken)
        for files in ((bad, good, good), (good, bad, good), (good, good, bad)):
            done = run("check-outputs", "--stack", "kind-local", *map(str, files))
            assert done.returncode == 2 and done.stdout == ""
            assert done.stderr.startswith(f"{bad}: not JSON (") and done.stderr.count("\n") == 1, done.stderr
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    done = run("check-outputs", "--stack", "kind-local", str(good), str(listed), str(good))
    assert done.stderr == f"{listed}: must hold a JSON object (a stack output saved with --json)\n"
