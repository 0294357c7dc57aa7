"""The guard of tests/conftest.py sees what it must and blames nothing it must not."""

from __future__ import annotations

import os
import secrets
import subprocess

from leakguard import lab_namespaces, namespaces_left

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
