"""Progress lines from the long-running dynamic providers, so that a long `pulumi up` never looks hung.

A dynamic provider has no engine connection: `pulumi.log.info` writes "info: ..." to its
stderr, which the engine shows. The tests record what reaches `pulumi.log.info` (the
boundary) while real commands run through the local connector.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.hostrun import check_long, host_props, open_runner
from components.results import ResultsProvider
from spec.load import load_stack
from spec.plan import build_plan


@pytest.fixture
def said(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    lines: list[str] = []
    monkeypatch.setattr(pulumi.log, "info", lambda message, *_a, **_k: lines.append(message))
    return lines


def test_a_long_command_says_it_is_still_running(said: list[str]) -> None:
    async def go() -> str:
        async with open_runner(host_props("local")) as run:
            return await check_long(run, "sleep 0.55; echo made", "kind create cluster c on localhost", heartbeat_s=0.1)

    assert asyncio.run(go()).strip() == "made"
    assert said[0] == "kind create cluster c on localhost: started"
    beats = [line for line in said if line.startswith("kind create cluster c on localhost: still running after ")]
    assert 3 <= len(beats) <= 6
    assert said[-1].startswith("kind create cluster c on localhost: done in ")


def test_the_stand_in_kind_create_is_announced(
    said: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_components_kind import STAND_IN_KIND, props

    from components.kind import KindClusterProvider

    state = tmp_path / "kind-state"
    (state / "clusters").mkdir(parents=True)
    (tmp_path / "kind").write_text(STAND_IN_KIND.replace("{state}", str(state)))
    (tmp_path / "kind").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    made = KindClusterProvider().create(props(host_props("local")))
    assert "kind create cluster meshperf on localhost: started" in said
    said.clear()
    KindClusterProvider().delete("meshperf", made.outs)
    assert said[0] == "kind delete cluster meshperf on localhost: started"


def test_reading_results_says_which_viewer_it_reads(
    said: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = build_plan(load_stack("kind-local"))
    (tmp_path / "w1").mkdir()
    (tmp_path / "w1" / "index.tsv").write_text("")
    viewers: list[dict[str, Any]] = [
        {"namespace": "meshperf", "pod": "viewer-w1", "logdir": "/logs/1", "folder": str(tmp_path / "w1")},
        {"namespace": "meshperf", "pod": "viewer-gone", "logdir": "/logs/1", "folder": str(tmp_path / "gone")},
    ]
    monkeypatch.setattr("components.results.figures", lambda _plan, _files, _context: {"failures": {"p1": "no log"}})
    provider = ResultsProvider()
    provider.create({"plan": plan.model_dump_json(), "viewers": viewers, "run_id": "1", "jobs": []})
    assert said[0] == "results: reading /logs/1 from viewer meshperf/viewer-w1 (1/2)"
    assert "results: 1 files from viewer meshperf/viewer-w1" in said
    assert "results: reading /logs/1 from viewer meshperf/viewer-gone (2/2)" in said
    assert said[-1] == f"results: figures of {len(plan.cases)} cases computed, 1 failed"
