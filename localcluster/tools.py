"""Where the cluster's programs are: Kubernetes, etcd and kube-router built by scripts/live-tools.sh
(its `--check` prints their bin folder), the rest from Debian packages."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(os.environ.get("MESHPERF_LIVE_TOOLS", ROOT / "scripts" / "live-tools.sh"))
BUILT = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
    "kube-router",
)
DEBIAN = (
    "containerd",
    "ctr",
    "containerd-shim-runc-v2",
    "runc",
    "nsenter",
    "ip",
    "iptables",
    "ipset",
    "conntrack",
    "buildah",
    "mmdebstrap",
)
CNI_DIR = Path("/usr/lib/cni")
CNI = ("bridge", "host-local", "loopback", "portmap")


class ToolsMissingError(RuntimeError):
    """A program the cluster needs is not there: str() says which and how to get it."""


def bin_dir(timeout_s: float = 120.0) -> Path:
    """The built tools' folder, as `live-tools.sh --check` prints it (its last line)."""
    if not SCRIPT.is_file():
        raise ToolsMissingError(
            f"{SCRIPT}: not found (the live tools script builds Kubernetes; set MESHPERF_LIVE_TOOLS)"
        )
    try:
        proc = subprocess.run(
            ["sh", str(SCRIPT), "--check"], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise ToolsMissingError(f"{SCRIPT} --check: no answer after {timeout_s:.0f} s") from None
    lines = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        why = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
        raise ToolsMissingError(f"{SCRIPT.name} --check: {why.removeprefix('live-tools: ')}")
    folder = Path(lines[-1])
    missing = [name for name in BUILT if not os.access(folder / name, os.X_OK)]
    if missing:
        raise ToolsMissingError(f"{folder}: missing {', '.join(missing)} (rebuild with {SCRIPT})")
    return folder


def check_debian() -> None:
    """Debian's parts: containerd, runc, the CNI plugins, buildah, ..."""
    missing = [name for name in DEBIAN if shutil.which(name) is None]
    missing += [f"{CNI_DIR}/{name}" for name in CNI if not (CNI_DIR / name).is_file()]
    if missing:
        raise ToolsMissingError(
            f"not installed: {', '.join(missing)} (apt-get install containerd runc containernetworking-plugins "
            "buildah catatonit conntrack ipset mmdebstrap)"
        )


def env_path(folder: Path) -> str:
    return f"{folder}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
