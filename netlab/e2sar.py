"""The E2SAR suite in the lab: per rate, the rendered receiver Job, then the sender Job once it is ready.

As on Kubernetes, the receiver pod's readiness probe (every UDP port of its range bound, read
from /proc/net/udp inside the container) says when the sender may start; the sender gets the
receiver's pod IP in its env from the rendered Job. Both Jobs end on their own (or at their
activeDeadlineSeconds). E2SAR's image is not built here: its containers run on the host's
userland, so without `e2sar_perf` on the host's PATH the suite is skipped with one line, and its
pairs are recorded as skipped with that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import Callable

from manifests import Obj
from manifests.base import E2SAR_CASE, ROLE
from manifests.e2sar import RECEIVER, SENDER
from netlab.kubelet import KubeletError
from netlab.lab import Lab
from results.model import Results
from spec.plan import E2sarCase, Plan

BINARY = "e2sar_perf"
SKIPPED = f"{BINARY} is not on PATH"


async def run_e2sar(lab: Lab, plan: Plan, say: Callable[[str], None]) -> str | None:
    """Run every pair in turn; the reason the suite was skipped, or None when it ran."""
    if not plan.e2sar:
        return None
    if shutil.which(BINARY) is None:
        say(f"[lab] e2sar suite skipped: {SKIPPED}")
        return SKIPPED
    for case in plan.e2sar:
        await _run_pair(lab, case, say)
    return None


def e2sar_job(objects: list[Obj], case: E2sarCase, role: str) -> Obj:
    """The rendered Job of one side of a pair."""
    jobs = [
        j
        for j in objects
        if j["kind"] == "Job"
        and j["metadata"]["labels"].get(E2SAR_CASE) == case.id
        and j["spec"]["template"]["metadata"]["labels"].get(ROLE) == role
    ]
    (job,) = jobs
    return job


async def _run_pair(lab: Lab, case: E2sarCase, say: Callable[[str], None]) -> None:
    started = time.monotonic()
    receiver_job, sender_job = e2sar_job(lab.objects, case, RECEIVER), e2sar_job(lab.objects, case, SENDER)
    receiver = asyncio.create_task(lab.run_job(receiver_job))
    try:
        limit = float(receiver_job["spec"]["activeDeadlineSeconds"])
        try:
            await lab.kubelet.wait_job_ready(receiver_job["metadata"]["name"], limit)
        except KubeletError as exc:
            lab.warn(f"{case.id}: the receiver never got ready, sender not run: {exc}")
            return
        await lab.run_job(sender_job)
        await receiver
    finally:
        if not receiver.done():
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
    lab.snapshot_rules(case.id)
    for drop in lab.new_policy_drops():
        say(f"[lab] {case.id}: {drop}")
    say(f"[lab] {case.id}: {case.rate_gbps:g} Gbps pair done ({time.monotonic() - started:.1f} s)")


def mark_skipped(results: Results, reason: str) -> Results:
    """The suite's pairs as skipped, with the reason, in place of 'not run'."""
    pairs = tuple(r.model_copy(update={"ok": False, "skipped": True, "error": reason}) for r in results.e2sar_cases)
    return results.model_copy(update={"e2sar_cases": pairs})
