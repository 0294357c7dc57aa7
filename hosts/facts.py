"""Facts: a command that reads state and a pure `process(output)` that parses it.

Commands are written to exit 0 whenever the state could be read, also when the thing asked
about is missing (an absent file is the fact `None`, not an error), so that many facts can
be read in one script on one session.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
ABSENT = "@absent@"


class Fact(ABC, Generic[T]):
    """Subclasses are frozen dataclasses: equal facts are read once per host."""

    @abstractmethod
    def command(self) -> str: ...

    @abstractmethod
    def process(self, output: str) -> T: ...

    @property
    def label(self) -> str:
        args = ", ".join(str(v) for v in vars(self).values())
        return f"{type(self).__name__}({args})"

    @property
    def name(self) -> str:
        """The fact's plain name, as `hosts facts` takes it and its JSON keys it: `os_release`,
        `sysctl(net.ipv4.ip_forward)` for a fact with arguments."""
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__).lower()
        args = ", ".join(str(v) for v in vars(self).values())
        return f"{snake}({args})" if args else snake


def sysctl_path(key: str) -> str:
    """net.ipv4.tcp_fin_timeout -> /proc/sys/net/ipv4/tcp_fin_timeout; a key with '/' is a path already."""
    return "/proc/sys/" + (key if "/" in key else key.replace(".", "/"))


def normalize_sysctl(value: str) -> str:
    """Multi-value sysctls print tab-separated: compare them with single spaces."""
    return " ".join(value.split())


@dataclass(frozen=True)
class OsRelease(Fact[dict[str, str]]):
    def command(self) -> str:
        return "cat /etc/os-release 2>/dev/null || true"

    def process(self, output: str) -> dict[str, str]:
        result: dict[str, str] = {}
        for line in output.splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key and not key.startswith("#"):
                result[key] = value.strip().strip("\"'")
        return result


@dataclass(frozen=True)
class Kernel(Fact[str]):
    def command(self) -> str:
        return "uname -r"

    def process(self, output: str) -> str:
        return output.strip()


@dataclass(frozen=True)
class SysctlValue(Fact[str | None]):
    """The live value, whitespace-normalized; None when the kernel has no such key."""

    key: str

    def command(self) -> str:
        return f"cat {shlex.quote(sysctl_path(self.key))} 2>/dev/null || echo {ABSENT}"

    def process(self, output: str) -> str | None:
        value = output.strip()
        return None if value == ABSENT else normalize_sysctl(value)


@dataclass(frozen=True)
class FileText(Fact[str | None]):
    """A (small, text) file's content; None when absent."""

    path: str

    def command(self) -> str:
        p = shlex.quote(self.path)
        return f"if [ -f {p} ]; then echo present; cat {p}; else echo {ABSENT}; fi"

    def process(self, output: str) -> str | None:
        head, _, body = output.partition("\n")
        return None if head == ABSENT else body


@dataclass(frozen=True)
class FileInfo:
    mode: int
    sha256: str
    size: int


@dataclass(frozen=True)
class FileState(Fact[FileInfo | None]):
    """Mode, size and digest of a file, without its content; None when absent."""

    path: str

    def command(self) -> str:
        p = shlex.quote(self.path)
        return f"if [ -f {p} ]; then stat -c '%a %s' {p} && sha256sum < {p}; else echo {ABSENT}; fi"

    def process(self, output: str) -> FileInfo | None:
        lines = output.split()
        if not lines or lines[0] == ABSENT:
            return None
        return FileInfo(mode=int(lines[0], 8), size=int(lines[1]), sha256=lines[2])


@dataclass(frozen=True)
class Route:
    dst: str
    gateway: str | None = None
    dev: str | None = None
    mtu: int | None = None


def normalize_dst(dst: str) -> str:
    """'10.1.0.5' and '10.1.0.5/32' are one route to ip(8); 'default' stays."""
    if dst == "default":
        return dst
    return str(ipaddress.ip_network(dst, strict=False))


@dataclass(frozen=True)
class Routes(Fact[dict[str, Route]]):
    """The main table's routes by destination."""

    def command(self) -> str:
        return "ip -j route show"

    def process(self, output: str) -> dict[str, Route]:
        routes: dict[str, Route] = {}
        for entry in json.loads(output or "[]"):
            metrics = {k: v for m in entry.get("metrics", []) for k, v in m.items()}
            dst = normalize_dst(entry["dst"])
            routes[dst] = Route(dst, entry.get("gateway"), entry.get("dev"), metrics.get("mtu"))
        return routes


@dataclass(frozen=True)
class InterfaceMtus(Fact[dict[str, int]]):
    def command(self) -> str:
        return "ip -j link show"

    def process(self, output: str) -> dict[str, int]:
        return {link["ifname"]: int(link["mtu"]) for link in json.loads(output or "[]")}


@dataclass(frozen=True)
class DebPackages(Fact[dict[str, str | None]]):
    """Installed version of each Debian package, None when not installed."""

    names: tuple[str, ...]

    def command(self) -> str:
        names = " ".join(shlex.quote(n) for n in self.names)
        return f"dpkg-query -W -f='${{Package}}\\t${{Status}}\\t${{Version}}\\n' {names} 2>/dev/null || true"

    def process(self, output: str) -> dict[str, str | None]:
        found: dict[str, str | None] = dict.fromkeys(self.names)
        for line in output.splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[1].endswith(" installed"):
                found[parts[0].split(":")[0]] = parts[2]
        return found


@dataclass(frozen=True)
class KindClusters(Fact[tuple[str, ...]]):
    """Names of the kind clusters on the host (none when kind is not installed)."""

    def command(self) -> str:
        return "command -v kind >/dev/null && kind get clusters 2>/dev/null || true"

    def process(self, output: str) -> tuple[str, ...]:
        return tuple(sorted(line.strip() for line in output.splitlines() if line.strip()))


@dataclass(frozen=True)
class CommandSucceeds(Fact[bool]):
    """Whether a test command exits 0 (its output is discarded)."""

    test: str

    def command(self) -> str:
        return f"if ( {self.test} ) >/dev/null 2>&1; then echo yes; else echo no; fi"

    def process(self, output: str) -> bool:
        return output.strip() == "yes"


FACTS_BY_NAME: dict[str, type[Fact[Any]]] = {
    "os_release": OsRelease,
    "kernel": Kernel,
    "routes": Routes,
    "interface_mtus": InterfaceMtus,
    "kind_clusters": KindClusters,
}
