"""Kubeconfig files: one per component (files by path), and the user's (certificates inline)."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml


def write(
    path: Path, *, server: str, ca: Path, cert: Path, key: Path, context: str = "local", inline: bool = False
) -> Path:
    """A kubeconfig with one cluster, user and context named `context`, current."""
    if inline:
        cluster = {"server": server, "certificate-authority-data": _b64(ca)}
        user = {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)}
    else:
        cluster = {"server": server, "certificate-authority": str(ca)}
        user = {"client-certificate": str(cert), "client-key": str(key)}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()
