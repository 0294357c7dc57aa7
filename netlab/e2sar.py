"""The E2SAR suite in the lab: per rate, the rendered receiver Job, then the sender Job once it is ready.

As on Kubernetes, the receiver pod's readiness probe (every UDP port of its range bound, read
from /proc/net/udp inside the container) says when the sender may start; the sender gets the
receiver's pod IP in its env from the rendered Job. Both Jobs end on their own (or at their
activeDeadlineSeconds). The receiver's own IP comes from the downward API (status.podIP), the
token from the pair's Secret, whose data the lab holds in memory only (`lab.secrets`: the token
of MESHPERF_E2SAR_TOKEN, else the seed's placeholder), never in objects.json or scripts/. A
receiver that ends before it is ready is reported with e2sar_perf's own last error line. After
each pair the kernel's counts of what reached the receiver are kept (`lab/tc-<case>-receiver.txt`:
what a shaped ingress let through and dropped; `lab/snmp-<case>-receiver.txt`: UDP datagrams
delivered, and dropped for want of socket buffer). E2SAR's image is not built here: its containers run on the
host's userland, so without `e2sar_perf` on the host's PATH the suite is skipped with one line,
and its pairs are recorded as skipped with that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping

from manifests import CLUSTER, Obj
from manifests.base import E2SAR_CASE, ROLE
from manifests.e2sar import RECEIVER, SENDER, TOKEN_SECRET_KEY, token_secret_name
from netlab.kubelet import KubeletError
from netlab.lab import Lab
from netlab.namespaces import LabError, run
from results.model import Results
from spec.e2sar import DEFAULT_TOKEN, TOKEN_ENV, token_problem
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
    token = lab_token(os.environ)
    for case in plan.e2sar:
        lab.secrets[token_secret_name(case)] = {TOKEN_SECRET_KEY: token}
    for case in plan.e2sar:
        await _run_pair(lab, case, say)
    return None


def lab_token(env: Mapping[str, str]) -> str:
    """The control plane's token for the lab's Secrets: TOKEN_ENV, else the seed's placeholder."""
    token = env.get(TOKEN_ENV) or DEFAULT_TOKEN
    if problem := token_problem(token):
        raise LabError(f"{TOKEN_ENV}: {problem}")
    return token


def tool_error(lab: Lab, job: str) -> str | None:
    """The last error line e2sar_perf printed in a Job's pod, as its script repeats it on the pod's log."""
    pod = lab.kubelet.job_pods.get(job)
    folder = lab.kubelet.logs_dir / pod if pod else None
    if folder is None or not folder.is_dir():
        return None
    found = None
    for log in sorted(folder.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if m := re.match(rf"^\[meshperf\] {re.escape(job)} error: (.+)$", line):
                found = m[1].strip()
    return found


def snapshot_receiver_counters(lab: Lab, job: Obj, label: str) -> None:
    """The kernel's counts of what reached the receiver: `tc -s qdisc` of the node's end of its veth
    (what a tbf there, its `ingress_rate`, let through and dropped) and its namespace's /proc/net/snmp
    (UDP datagrams delivered to sockets, to no socket, and those its socket buffers had no room for)."""
    cluster = str(job["metadata"]["labels"][CLUSTER])
    pod = lab.layout.pod(str(job["metadata"]["name"]), cluster, str(job["metadata"].get("namespace", "default")))
    node = lab.layout.node(pod.cluster, pod.node)
    commands = {
        "tc": ("ip", "netns", "exec", node.ns, "tc", "-s", "qdisc", "show", "dev", pod.host_veth),
        "snmp": ("ip", "netns", "exec", pod.ns, "cat", "/proc/net/snmp"),
    }
    for name, argv in commands.items():
        try:
            out = run(argv)
        except LabError as exc:
            out = f"{exc}\n"
        (lab.workdir / "lab" / f"{name}-{label}-receiver.txt").write_text(out)


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
            said = tool_error(lab, str(receiver_job["metadata"]["name"]))
            why = f"{BINARY}: {said}" if said else str(exc)
            lab.warn(f"{case.id}: the receiver never got ready, sender not run: {why}")
            return
        await lab.run_job(sender_job)
        await receiver
        snapshot_receiver_counters(lab, receiver_job, case.id)
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
