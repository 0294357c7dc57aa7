"""The images a node's containerd runs, built here with buildah and no registry.

- the base, `docker.io/library/debian:bookworm-slim`: an mmdebstrap bookworm root (variant
  minbase, sources in the deb822 file the real image has, which images/Dockerfile edits);
- the tool image, `meshperf-tools:<hash>` (spec.image.tool_image(): the name the program's pods
  run): `buildah bud` of images/Dockerfile on that base (its apt-get reaches Debian's archive
  through the host's network, as any package install);
- the sandbox (pause) image: Debian's static catatonit in pause mode, from scratch.

Each is exported once as a docker-archive under a hash of what it is made of (cache folder
outside the repo), so that a cluster's start only imports archives into its containerd.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from localcluster.shell import run, run_logged
from spec.image import tool_image

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "images"
CACHE = Path(os.environ.get("MESHPERF_IMAGE_CACHE", "/var/cache/meshperf/images"))
STORAGE = CACHE / "buildah"
BASE_NAME = "docker.io/library/debian:bookworm-slim"
PAUSE_NAME = "localhost/meshperf-pause:catatonit"
CATATONIT = "/usr/bin/catatonit"
SOURCES = """Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
BUILD_TIMEOUT_S = 1800.0


def buildah(*args: str) -> list[str]:
    """buildah on the project's own storage (not the machine's default one)."""
    return [
        "buildah",
        "--root",
        str(STORAGE / "root"),
        "--runroot",
        str(STORAGE / "run"),
        "--storage-driver",
        "overlay",
        *args,
    ]


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def base_key() -> str:
    return _digest(b"minbase bookworm", SOURCES.encode())


def tool_name() -> str:
    """The tool image's tag, as the program's pods name it (spec.image: a hash of its build inputs)."""
    return tool_image(IMAGES)


def tool_key() -> str:
    parts = ((IMAGES / name).read_bytes() for name in ("Dockerfile", "packages.txt"))
    return _digest(base_key().encode(), tool_name().encode(), *parts)


def pause_key() -> str:
    return _digest(Path(CATATONIT).read_bytes())


def _has_image(name: str) -> bool:
    return bool(run(buildah("images", "-q", name), check=False).strip())


def _base_archive(say: Callable[[str], None]) -> Path:
    """The base root as a tarball, built by mmdebstrap once."""
    tar = CACHE / f"debian-bookworm-slim-{base_key()}.tar"
    if tar.is_file():
        return tar
    say(f"[image] building the base root {tar.name} with mmdebstrap (a few minutes, once)")
    hook = (
        f'rm -f "$1/etc/apt/sources.list"; printf %s {_sh_quote(SOURCES)} > "$1/etc/apt/sources.list.d/debian.sources"'
    )
    tmp = tar.with_suffix(".tmp.tar")
    run_logged(
        ["mmdebstrap", "--mode=root", "--variant=minbase", f"--customize-hook={hook}", "bookworm", str(tmp)],
        str(CACHE / "mmdebstrap.log"),
        timeout_s=BUILD_TIMEOUT_S,
    )
    tmp.rename(tar)
    return tar


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _commit_from_scratch(name: str, add: list[tuple[str, str]], config: list[str]) -> None:
    """A one-layer image from files (a tar is unpacked by `buildah add`), with its config."""
    ctr = run(buildah("from", "scratch")).strip()
    try:
        for src, dest in add:
            run(buildah("add", ctr, src, dest), timeout_s=600)
        run(buildah("config", *config, ctr))
        run(buildah("commit", "--rm", ctr, name), timeout_s=600)
    finally:
        run(buildah("rm", ctr), check=False)


def ensure_base(say: Callable[[str], None]) -> None:
    """`debian:bookworm-slim` in buildah's storage, from the locally made root."""
    if _has_image(BASE_NAME):
        return
    tar = _base_archive(say)
    say(f"[image] committing {BASE_NAME} from {tar.name}")
    env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    _commit_from_scratch(BASE_NAME, [(str(tar), "/")], ["--env", env, "--cmd", "bash"])


def tool_archive(say: Callable[[str], None] = print) -> Path:
    """The tool image (images/Dockerfile built by buildah) as a docker-archive, cached by its inputs."""
    out = CACHE / f"meshperf-tools-{tool_key()}.tar"
    if out.is_file():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    ensure_base(say)
    name = f"docker.io/library/{tool_name()}"
    say(f"[image] buildah bud images/Dockerfile -> {name} (apt from Debian's archive; minutes, once)")
    run_logged(
        buildah("bud", "--pull=never", "--isolation", "chroot", "--network", "host", "-t", name, str(IMAGES)),
        str(CACHE / "buildah-bud.log"),
        timeout_s=BUILD_TIMEOUT_S,
    )
    _export(name, tool_name(), out)
    return out


def pause_archive(say: Callable[[str], None] = print) -> Path:
    """The sandbox image: catatonit -P (pause mode) alone, from scratch."""
    out = CACHE / f"meshperf-pause-{pause_key()}.tar"
    if out.is_file():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    say(f"[image] building {PAUSE_NAME} from {CATATONIT}")
    _commit_from_scratch(
        PAUSE_NAME,
        [(CATATONIT, "/catatonit")],
        ["--entrypoint", '["/catatonit", "-P"]', "--cmd", "", "--user", "65535"],
    )
    _export(PAUSE_NAME, PAUSE_NAME, out)
    return out


def _export(image: str, ref: str, out: Path) -> None:
    """A docker-archive tagged `ref`, written whole or not at all."""
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        part = Path(tmp) / "image.tar"
        run(buildah("push", image, f"docker-archive:{part}:{ref}"), timeout_s=600)
        shutil.move(part, out)
