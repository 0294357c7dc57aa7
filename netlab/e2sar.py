"""The E2SAR suite in the lab: per rate, the receiver script in the background, then the sender.

UDP has no handshake, so the lab sequences the pair itself: the receiver's script starts,
the lab waits until its pod has the receiver's first UDP port bound (`ss -Hlun`), runs the
sender's script with the receiver pod's IP in `MESHPERF_E2SAR_RECEIVER_IP`, then waits for
the receiver to finish its DURATION. Without `e2sar_perf` on PATH the suite is skipped with
one line, and its pairs are recorded as skipped with that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

from manifests import e2sar
from netlab.lab import Lab
from results.model import Results
from spec.plan import E2SAR_RECEIVER_VAR, E2sarCase, Plan
from spec.runner import e2sar_script

BINARY = "e2sar_perf"
SKIPPED = f"{BINARY} is not on PATH"
LISTEN_TIMEOUT_S = 10.0


def write_e2sar_scripts(plan: Plan, scripts: Path) -> None:
    for case in plan.e2sar:
        for role in ("receiver", "sender"):
            (scripts / f"{case.id}-{role}.sh").write_text(e2sar_script(case, role))


async def run_e2sar(lab: Lab, plan: Plan, scripts: Path, logs: Path, say: Callable[[str], None]) -> str | None:
    """Run every pair in turn; the reason the suite was skipped, or None when it ran."""
    if not plan.e2sar:
        return None
    if shutil.which(BINARY) is None:
        say(f"[lab] e2sar suite skipped: {SKIPPED}")
        return SKIPPED
    for case in plan.e2sar:
        await _run_pair(lab, case, scripts, logs, say)
    return None


async def _run_pair(lab: Lab, case: E2sarCase, scripts: Path, logs: Path, say: Callable[[str], None]) -> None:
    started = time.monotonic()
    lab.apply_rules([e2sar.job_name(case, e2sar.RECEIVER), e2sar.job_name(case, e2sar.SENDER)])
    receiver = await lab.start_script(case.receiver, scripts / f"{case.id}-receiver.sh", logs)
    drain = asyncio.create_task(_drain(receiver))
    try:
        if not await _listening(lab, case, receiver):
            lab.warn(f"{case.id}: the receiver in {case.receiver} never bound UDP {case.port}; sender not run")
            return
        env = {E2SAR_RECEIVER_VAR: str(lab.layout.pod(case.receiver).ip)}
        await lab.run_script(
            case.sender, scripts / f"{case.id}-sender.sh", logs, case.sender_limit_s + 10, extra_env=env
        )
        left = case.receiver_limit_s + 10 - (time.monotonic() - started)
        try:
            await asyncio.wait_for(receiver.wait(), max(left, 1.0))
        except TimeoutError:
            lab.warn(f"{case.id}: receiver cut after {case.receiver_limit_s + 10} s")
    finally:
        if receiver.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(receiver.pid, signal.SIGKILL)
            await receiver.wait()
        await drain
    lab.snapshot_rules(case.id)
    for drop in lab.new_policy_drops():
        say(f"[lab] {case.id}: {drop}")
    say(f"[lab] {case.id}: {case.rate_gbps:g} Gbps pair done ({time.monotonic() - started:.1f} s)")


async def _drain(proc: asyncio.subprocess.Process) -> None:
    if proc.stdout is not None:
        async for _ in proc.stdout:
            pass


async def _listening(lab: Lab, case: E2sarCase, receiver: asyncio.subprocess.Process) -> bool:
    deadline = time.monotonic() + LISTEN_TIMEOUT_S
    while time.monotonic() < deadline and receiver.returncode is None:
        _, out = await lab.exec(case.receiver, "ss", "-Hlun", f"sport = :{case.port}", limit_s=5)
        if out.strip():
            return True
        await asyncio.sleep(0.05)
    return False


def mark_skipped(results: Results, reason: str) -> Results:
    """The suite's pairs as skipped, with the reason, in place of 'not run'."""
    pairs = tuple(r.model_copy(update={"ok": False, "skipped": True, "error": reason}) for r in results.e2sar_cases)
    return results.model_copy(update={"e2sar_cases": pairs})
