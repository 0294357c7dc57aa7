"""The cluster's network: a namespace for the control plane (holding the bridge that links the
nodes) and one per node, all named with the run's prefix; nothing on the machine's own interfaces.

Sockets are opened inside a namespace by switching this thread into it for the `socket()` call
only (setns(2)); a socket stays in the namespace it was made in. That is how the relay and the
health checks reach addresses that exist only in the cluster's namespaces.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from localcluster.shell import run

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def inside(name: str) -> Iterator[None]:
    """This thread in namespace `name` for the block, then back where it was."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(NETNS_DIR / name, os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def socket_in(name: str) -> socket.socket:
    """A TCP socket that lives in namespace `name` (connect it from anywhere)."""
    with inside(name):
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def listing(prefix: str) -> list[str]:
    """The namespaces whose names start with `prefix`."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))


def ip(ns: str | None, *args: str) -> str:
    return run(["ip", *(["-n", ns] if ns else []), *args])


def sysctl(ns: str, key: str, value: str) -> None:
    run(["ip", "netns", "exec", ns, "sysctl", "-qw", f"{key}={value}"])


def create(name: str) -> None:
    run(["ip", "netns", "add", name])
    ip(name, "link", "set", "lo", "up")


def delete(name: str) -> None:
    """Remove a namespace (its links and rules go with it); absent is fine."""
    if exists(name):
        run(["ip", "netns", "delete", name], check=False)
    with contextlib.suppress(OSError):  # a leftover mount point of a half-made namespace
        run(["umount", "-l", str(NETNS_DIR / name)], check=False)
        (NETNS_DIR / name).unlink()


def veth(ns_a: str, name_a: str, ns_b: str, name_b: str) -> None:
    """A veth pair made directly inside two namespaces (never in the machine's own)."""
    run(["ip", "link", "add", "name", name_a, "netns", ns_a, "type", "veth", "peer", "name", name_b, "netns", ns_b])


def build(cp_ns: str, cp_cidr: str, nodes: dict[str, str], prefix_len: int) -> None:
    """The control plane's namespace with bridge `br0` at `cp_cidr`, each node's namespace linked to it
    by a veth pair made directly inside the two namespaces, and a default route via the bridge."""
    create(cp_ns)
    ip(cp_ns, "link", "add", "br0", "type", "bridge")
    ip(cp_ns, "addr", "add", cp_cidr, "dev", "br0")
    ip(cp_ns, "link", "set", "br0", "up")
    gateway = cp_cidr.split("/")[0]
    for i, (ns, node_ip) in enumerate(nodes.items()):
        create(ns)
        peer = f"n{i}"
        veth(ns, "eth0", cp_ns, peer)
        ip(cp_ns, "link", "set", peer, "master", "br0", "up")
        ip(ns, "addr", "add", f"{node_ip}/{prefix_len}", "dev", "eth0")
        ip(ns, "link", "set", "eth0", "up")
        ip(ns, "route", "add", "default", "via", gateway)
        for key, value in (
            ("net.ipv4.ip_forward", "1"),
            ("net.bridge.bridge-nf-call-iptables", "1"),
            ("net.ipv4.conf.all.rp_filter", "0"),
        ):
            sysctl(ns, key, value)
