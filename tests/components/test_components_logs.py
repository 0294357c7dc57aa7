"""The exec log reader's requests and failure handling, and the Results provider on a lab run's folder."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import LAB_RUN, split_lab_run

from components.logs import (
    ExecLogReader,
    ExecResult,
    FolderLogReader,
    LogReadTimeoutError,
    Viewer,
    ViewerGoneError,
    cat_command,
    demux,
    exec_request,
    exit_status,
    list_command,
)
from components.results import ResultsProvider, merge_logs
from spec.load import load_stack
from spec.plan import Plan, build_plan
from spec.profiles import with_host_baseline

VIEWER = Viewer("meshperf", "log-viewer-worker", "viewer", "/logs/1")


def test_exec_request_is_a_plain_non_interactive_command() -> None:
    req = exec_request(VIEWER, cat_command("/logs/1/", "p1-iperf3-tcp-mss96.json"))
    assert req == {
        "name": "log-viewer-worker",
        "namespace": "meshperf",
        "container": "viewer",
        "command": ["cat", "--", "/logs/1/p1-iperf3-tcp-mss96.json"],
        "stdin": False,
        "stdout": True,
        "stderr": True,
        "tty": False,
    }
    listing = list_command("/logs/it's")
    assert listing[:2] == ["sh", "-c"] and "'/logs/it'\"'\"'s'" in listing[2]


def test_demux_splits_channels_and_reads_the_exit_status() -> None:
    failure = {"status": "Failure", "details": {"causes": [{"reason": "ExitCode", "message": "1"}]}}
    frames = [b"\x01hello ", b"\x02oops\n", b"\x01world\n", b"\x03" + json.dumps(failure).encode(), b""]
    assert demux(frames) == ExecResult(1, "hello world\n", "oops\n")
    assert demux([b"\x01x", b'\x03{"status": "Success"}']).rc == 0
    assert exit_status("") == 0


class FakeExec:
    """Answers exec requests from a dict of files, as a viewer would; records what it was asked."""

    def __init__(self, files: dict[str, str], *, vanish: set[str] | None = None, delay: float = 0.0) -> None:
        self.files = files
        self.vanish = vanish or set()
        self.delay = delay
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, request: dict[str, Any]) -> ExecResult:
        self.requests.append(request)
        await asyncio.sleep(self.delay)
        command = request["command"]
        if command[0] == "sh":
            return ExecResult(0, "".join(f"{n}\n" for n in sorted(self.files)), "")
        name = command[-1].rsplit("/", 1)[-1]
        if name in self.vanish or name not in self.files:
            return ExecResult(1, "", f"cat: {command[-1]}: No such file or directory\n")
        return ExecResult(0, self.files[name], "")


def test_reader_reads_every_file_and_leaves_out_a_missing_one() -> None:
    fake = FakeExec({"index.tsv": "a\t1\t2\t0\n", "a.json": "{}", "b.json": "{}"}, vanish={"b.json"})
    files = asyncio.run(ExecLogReader(fake, VIEWER).read())
    assert files == {"index.tsv": "a\t1\t2\t0\n", "a.json": "{}"}
    assert all(r["name"] == "log-viewer-worker" and r["namespace"] == "meshperf" for r in fake.requests)


def test_reader_of_a_folder_that_does_not_exist_gives_nothing() -> None:
    async def no_folder(_request: dict[str, Any]) -> ExecResult:
        return ExecResult(3, "", "")

    assert asyncio.run(ExecLogReader(no_folder, VIEWER).read()) == {}


def test_a_viewer_that_is_gone_is_a_clear_error() -> None:
    async def gone(_request: dict[str, Any]) -> ExecResult:
        raise ViewerGoneError("log viewer meshperf/log-viewer-worker is gone")

    with pytest.raises(ViewerGoneError, match="is gone"):
        asyncio.run(ExecLogReader(gone, VIEWER).read())


def test_a_slow_viewer_times_out() -> None:
    fake = FakeExec({"a.json": "{}"}, delay=0.5)
    with pytest.raises(LogReadTimeoutError, match=r"meshperf/log-viewer-worker took over 0.1s"):
        asyncio.run(ExecLogReader(fake, VIEWER, timeout_s=0.1).read())


def test_kube_exec_maps_a_missing_pod_to_viewer_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production Exec: a 404 on the viewer pod is ViewerGoneError, before any websocket is opened."""
    from kubernetes_asyncio import client
    from kubernetes_asyncio.client.exceptions import ApiException

    from components.logs import kube_exec

    async def not_found(self: Any, name: str, namespace: str, **_: Any) -> Any:
        raise ApiException(status=404, reason="Not Found")

    monkeypatch.setattr(client.CoreV1Api, "read_namespaced_pod", not_found)
    kubeconfig = (
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters: [{name: x, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: x, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: x, user: x}}]\n"
    )
    run = kube_exec(kubeconfig)
    with pytest.raises(ViewerGoneError, match="meshperf/log-viewer-worker is gone"):
        asyncio.run(run(exec_request(VIEWER, ["true"])))


def test_merge_concatenates_index_files() -> None:
    merged = merge_logs([{"index.tsv": "a\t1\t2\t0", "a.json": "A"}, {"index.tsv": "b\t1\t2\t0\n", "b.json": "B"}])
    assert merged == {"index.tsv": "a\t1\t2\t0\nb\t1\t2\t0\n", "a.json": "A", "b.json": "B"}


def _fixture_plan() -> Plan:
    """The plan whose logs the lab-run fixture holds: kind-mesh's, with the host baseline."""
    return build_plan(with_host_baseline(load_stack("kind-mesh")))


def _split_run(tmp_path: Path) -> list[dict[str, Any]]:
    """The lab run's folder split by client, as the per-node viewers of kind-mesh would hold it."""
    return split_lab_run(_fixture_plan(), tmp_path)


def test_results_provider_on_a_lab_run(tmp_path: Path) -> None:
    plan = _fixture_plan()
    viewers = _split_run(tmp_path)
    # One case's log lost, and one viewer gone: failures and a read error, not an exception.
    (tmp_path / "w1" / "p1-iperf3-tcp-mss96.txt").unlink()
    viewers.append({"namespace": "meshperf", "pod": "viewer-gone", "logdir": "/logs/1", "folder": str(tmp_path / "x")})
    made = ResultsProvider().create({"plan": plan.model_dump_json(), "viewers": viewers, "run_id": "1", "jobs": []})
    outs = made.outs
    assert outs["throughput"] and outs["csv"]
    assert any("p1-iperf3-tcp-mss96" in json.dumps(f) for f in outs["failures"])
    assert outs["read_errors"] == [f"log folder {tmp_path / 'x'} is gone"]


def test_a_folder_viewer_that_is_gone_raises_viewer_gone(tmp_path: Path) -> None:
    with pytest.raises(ViewerGoneError, match=f"log folder {tmp_path / 'nothing'} is gone"):
        asyncio.run(FolderLogReader(tmp_path / "nothing").read())


def test_every_viewer_gone_is_an_error_not_a_run_of_failures(tmp_path: Path) -> None:
    plan = _fixture_plan()
    gone = [
        {"namespace": "meshperf", "pod": f"viewer-{n}", "logdir": "/logs/1", "folder": str(tmp_path / n)}
        for n in ("a", "b")
    ]
    both_gone = r"^no logs could be read: log folder \S*/a is gone; log folder \S*/b is gone$"
    with pytest.raises(RuntimeError, match=both_gone):
        ResultsProvider().create({"plan": plan.model_dump_json(), "viewers": gone, "run_id": "1", "jobs": []})


def test_viewers_that_hold_no_log_at_all_are_an_error(tmp_path: Path) -> None:
    """Every viewer answers, but none holds a log of this run (the exec reader's {} for a missing folder)."""
    plan = _fixture_plan()
    empty = [{"namespace": "meshperf", "pod": "viewer-w1", "logdir": "/logs/1", "folder": str(tmp_path)}]
    with pytest.raises(RuntimeError, match=r"^no logs in any viewer \(meshperf/viewer-w1:/logs/1\)$"):
        ResultsProvider().create({"plan": plan.model_dump_json(), "viewers": empty, "run_id": "1", "jobs": []})


def test_results_provider_calls_results_with_the_merged_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _fixture_plan()
    seen: dict[str, Any] = {}

    def figures(p: Any, files: Any, context: Any) -> dict[str, Any]:
        seen["plan"], seen["files"], seen["context"] = p, dict(files), context
        return {"throughput": {"x": 1.0}, "throughput_by_mss": {}, "latency": {}, "csv": "", "failures": []}

    monkeypatch.setattr("components.results.figures", figures)
    provider = ResultsProvider()
    made = provider.create({"plan": plan.model_dump_json(), "viewers": _split_run(tmp_path), "run_id": "7", "jobs": []})
    assert made.id == "results-7" and made.outs["throughput"] == {"x": 1.0}
    assert seen["plan"] == plan and seen["context"] is None  # no context among the inputs
    assert seen["files"] == asyncio.run(FolderLogReader(LAB_RUN).read()) | {"index.tsv": seen["files"]["index.tsv"]}
    assert sorted(seen["files"]["index.tsv"].splitlines()) == sorted((LAB_RUN / "index.tsv").read_text().splitlines())
    assert provider.diff("results-7", {"run_id": "7"}, {"run_id": "8"}).replaces == ["run_id"]
