"""images/Dockerfile reads images/packages.txt, the list the lab's root filesystem is built from.

No Docker here: the Dockerfile is parsed, and its install line is run by sh against a stand-in
apt-get that records the packages it was asked for.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

from netlab.rootfs import (
    IMAGE_CMD,
    IMAGE_ENV,
    IMAGE_GID,
    IMAGE_UID,
    IMAGE_WORKDIR,
    PACKAGES_FILE,
    USERADD_ARGS,
    parse_packages,
)

DOCKERFILE = PACKAGES_FILE.parent / "Dockerfile"
STAND_IN_APT_GET = '#!/bin/sh\n# Stand-in apt-get, for tests: records its arguments.\necho "$@" >> "{log}"\n'


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined.splitlines() if line.strip()]


def run_commands() -> list[str]:
    """The RUN instruction's commands, split at `&&`."""
    (run,) = [args for op, args in instructions(DOCKERFILE.read_text()) if op == "RUN"]
    return [part.strip() for part in run.split("&&")]


def test_the_dockerfile_copies_the_package_list_and_installs_exactly_it(tmp_path: Path) -> None:
    ops = instructions(DOCKERFILE.read_text())
    assert ("COPY", "packages.txt /tmp/packages.txt") in ops
    (install,) = [c for c in run_commands() if "apt-get install" in c]
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "apt-get").write_text(STAND_IN_APT_GET.replace("{log}", str(tmp_path / "calls")))
    (bindir / "apt-get").chmod(0o755)
    (tmp_path / "packages.txt").write_text(PACKAGES_FILE.read_text())
    subprocess.run(
        ["sh", "-c", install.replace("/tmp/packages.txt", str(tmp_path / "packages.txt"))],
        env={"PATH": f"{bindir}:/usr/bin:/bin"},
        check=True,
        timeout=10,
    )
    words = (tmp_path / "calls").read_text().split()
    assert words[:3] == ["install", "-y", "--no-install-recommends"]
    assert tuple(words[3:]) == parse_packages(PACKAGES_FILE.read_text())
    assert "netcat-openbsd" in words and "iperf3" in words


def test_the_image_user_and_config_are_the_labs() -> None:
    (useradd,) = [c for c in run_commands() if c.startswith("useradd")]
    assert tuple(shlex.split(useradd)[1:]) == USERADD_ARGS
    ops = instructions(DOCKERFILE.read_text())
    assert ("USER", f"{IMAGE_UID}:{IMAGE_GID}") in ops
    assert ("WORKDIR", IMAGE_WORKDIR) in ops
    assert ("CMD", json.dumps(list(IMAGE_CMD))) in ops
    envs = dict(args.split("=", 1) for op, args in ops if op == "ENV")
    assert envs == {k: v for k, v in IMAGE_ENV.items() if k != "PATH"}


def test_the_package_list_parses_comments_and_blank_lines() -> None:
    assert parse_packages("# head\niperf3\n\n  tar  # kubectl cp\n") == ("iperf3", "tar")
