"""Health checks that reach inside the cluster's namespaces (a socket made there), and the API."""

from __future__ import annotations

import contextlib
import socket
import ssl
from pathlib import Path
from typing import Any

import requests

from localcluster.netns import socket_in


def http_status(netns: str, host: str, port: int, path: str, *, tls: bool = False, timeout_s: float = 3.0) -> int:
    """The HTTP status of GET `path` on host:port inside `netns` (0 if nothing answers)."""
    sock = socket_in(netns)
    sock.settimeout(timeout_s)
    try:
        sock.connect((host, port))
        conn: socket.socket = sock
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = ctx.wrap_socket(sock, server_hostname=host)
        conn.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        head = conn.recv(64).decode(errors="replace")
        parts = head.split()
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    except (OSError, ssl.SSLError):
        return 0
    finally:
        with contextlib.suppress(OSError):
            sock.close()


class Api:
    """The API server through the relay on 127.0.0.1, as the cluster's admin."""

    def __init__(self, port: int, pki: Path, who: str = "admin") -> None:
        self.base = f"https://127.0.0.1:{port}"
        self.session = requests.Session()
        # Not the environment's CA bundle or proxies: requests would prefer REQUESTS_CA_BUNDLE to `verify`.
        self.session.trust_env = False
        self.session.cert = (str(pki / f"{who}.crt"), str(pki / f"{who}.key"))
        self.session.verify = str(pki / "ca.crt")

    def get(self, path: str, timeout_s: float = 5.0) -> Any:
        """The decoded JSON of GET `path`, or None if the server does not answer 200."""
        try:
            r = self.session.get(self.base + path, timeout=timeout_s)
        except requests.RequestException:
            return None
        if r.status_code != 200:
            return None
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text

    def send(self, method: str, path: str, body: Any = None, timeout_s: float = 5.0) -> requests.Response:
        return self.session.request(method, self.base + path, json=body, timeout=timeout_s)

    def create(self, obj: dict[str, Any]) -> None:
        """Create a cluster-scoped object (already there is fine); RuntimeError naming it otherwise."""
        group, _, version = str(obj["apiVersion"]).rpartition("/")
        base = f"/apis/{group}/{version}" if group else f"/api/{version}"
        plural = str(obj["kind"]).lower() + ("es" if str(obj["kind"]).endswith("s") else "s")
        r = self.send("POST", f"{base}/{plural}", obj)
        if r.status_code not in (200, 201, 409):
            raise RuntimeError(f"{obj['kind']} {obj['metadata']['name']}: {r.status_code} {r.text[:300]}")
