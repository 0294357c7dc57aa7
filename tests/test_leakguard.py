"""The guard of tests/conftest.py sees what it must and blames nothing it must not."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

from leakguard import become_subreaper, lab_namespaces, namespaces_left, reap_container_orphans

from netlab.namespaces import OWNERS_DIR, claim, release


def test_the_guard_sees_the_namespaces_this_process_made_and_no_others() -> None:
    lab, ssh, foreign = f"mp{secrets.token_hex(3)}", f"mph{secrets.token_hex(3)}", f"mp{secrets.token_hex(3)}"
    before = lab_namespaces()
    try:
        for prefix in (lab, ssh, foreign):
            subprocess.run(["ip", "netns", "add", f"{prefix}-node"], check=True, timeout=30)
        OWNERS_DIR.mkdir(parents=True, exist_ok=True)
        (OWNERS_DIR / foreign).write_text("1 1\n")  # another run's lab: its owner is not us
        # A netlab lab with no owner record counts; an SSH lab counts only by its record.
        assert namespaces_left(before) == {f"{lab}-node"}
        claim(ssh)
        assert namespaces_left(before) == {f"{lab}-node", f"{ssh}-node"}
        assert os.getpid() in (int(w) for w in (OWNERS_DIR / ssh).read_text().split())
    finally:
        for prefix in (lab, ssh, foreign):
            subprocess.run(["ip", "netns", "del", f"{prefix}-node"], capture_output=True, timeout=30)
            release(prefix)
    assert namespaces_left(before) == set()


def _state(pid: int) -> str | None:
    """A process's state letter, None once it is reaped."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2]


def _wait_for(pid: int, states: set[str | None], timeout_s: float) -> str | None:
    deadline = time.monotonic() + timeout_s
    while (state := _state(pid)) not in states and time.monotonic() < deadline:
        time.sleep(0.02)
    return state


def test_a_pid_namespace_init_left_waiting_on_our_zombie_goes_once_the_guard_reaps_it() -> None:
    """What a kubelet exec probe leaves when the pod is deleted mid-probe: nsenter's child, in the
    container's PID namespace, re-parented to us (the subreaper) and dead. The namespace's PID 1,
    killed, waits in the kernel until that zombie is reaped; reaping it lets PID 1 go."""
    become_subreaper()
    holder = subprocess.Popen(["unshare", "--pid", "--fork", "sleep", "60"], start_new_session=True)
    init = 0
    try:
        for _ in range(200):  # the init appears once unshare has forked: bounded to 4 s
            children = Path(f"/proc/{holder.pid}/task/{holder.pid}/children").read_text().split()
            if children:
                init = int(children[0])
                break
            time.sleep(0.02)
        assert init, "unshare never forked its init"
        # nsenter forks into the namespace; killing nsenter hands its child to us.
        nsenter = subprocess.Popen(["nsenter", "-t", str(init), "-p", "sleep", "0.3"], start_new_session=True)
        time.sleep(0.1)
        nsenter.kill()
        nsenter.wait(timeout=5)
        holder.kill()  # the init's parent goes too: the init is ours now, as a container's is
        holder.wait(timeout=5)
        os.kill(init, signal.SIGKILL)
        assert _wait_for(init, {None, "Z"}, 1.0) not in {None, "Z"}, "the init went without the reap"
        reap_container_orphans()
        assert _wait_for(init, {None, "Z"}, 2.0) in {None, "Z"}
    finally:
        for pid in (init, holder.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if pid:
                    os.kill(pid, signal.SIGKILL)
        reap_container_orphans()
        with contextlib.suppress(ChildProcessError):
            if init:
                os.waitpid(init, os.WNOHANG)
