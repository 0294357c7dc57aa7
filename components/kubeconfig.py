"""Kubeconfigs of existing clusters: merged as kubectl merges them, cut down to one context.

kubectl's rules (client-go tools/clientcmd/loader.go, `ClientConfigLoadingRules.Load` and
`ResolveLocalPaths`): every file in KUBECONFIG is read in order, missing ones skipped; for
each named cluster, user and context, and for current-context, the first file that sets it
wins; a relative certificate or key path is relative to the folder of the file that names it.

What goes into Pulumi's state is only the chosen context, its cluster and its user, with
every file they name inlined as `*-data`: a minimal kubeconfig that does not depend on files
on the machine that ran `pulumi up`. The caller keeps it secret.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

# Path fields of a kubeconfig and the inline field each becomes.
CLUSTER_FILES = {"certificate-authority": "certificate-authority-data"}
USER_FILES = {"client-certificate": "client-certificate-data", "client-key": "client-key-data"}


class KubeconfigError(ValueError):
    """A kubeconfig cannot give the context asked for; str() is one line naming the files and the context."""


def kubeconfig_files(given: str | None, environ: Mapping[str, str]) -> list[Path]:
    """The files kubectl would read: the stack's own, else every entry of KUBECONFIG, else ~/.kube/config."""
    listed = given if given else environ.get("KUBECONFIG", "")
    paths = [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    return paths or [Path.home() / ".kube" / "config"]


def _inline(entry: dict[str, Any], fields: Mapping[str, str], folder: Path, where: str) -> dict[str, Any]:
    """An entry with each file it names (relative to `folder`) read into the matching `*-data` field."""
    out = dict(entry)
    for path_key, data_key in fields.items():
        if path_key not in out:
            continue
        path = Path(str(out.pop(path_key))).expanduser()
        path = path if path.is_absolute() else folder / path
        if data_key in out:
            continue  # kubectl prefers the inline data when both are given
        try:
            out[data_key] = base64.b64encode(path.read_bytes()).decode()
        except OSError as exc:
            raise KubeconfigError(f"{where}: {path_key} {path}: {exc.strerror}") from None
    if "tokenFile" in out and "token" not in out:
        token_path = Path(str(out.pop("tokenFile"))).expanduser()
        token_path = token_path if token_path.is_absolute() else folder / token_path
        try:
            out["token"] = token_path.read_text().strip()
        except OSError as exc:
            raise KubeconfigError(f"{where}: tokenFile {token_path}: {exc.strerror}") from None
    return out


def merged(files: Iterable[tuple[Path, str]]) -> dict[str, Any]:
    """Several kubeconfig texts as kubectl merges them: first file wins per name; file paths already inlined."""
    kinds = {"clusters": ("cluster", CLUSTER_FILES), "users": ("user", USER_FILES), "contexts": ("context", {})}
    out: dict[str, Any] = {key: {} for key in kinds}
    current: str | None = None
    for path, text in files:
        doc = yaml.safe_load(text) or {}
        if not isinstance(doc, dict):
            raise KubeconfigError(f"{path}: not a kubeconfig (a YAML mapping)")
        for key, (inner, fields) in kinds.items():
            for item in doc.get(key) or []:
                name = item.get("name")
                if name is None or name in out[key]:
                    continue
                body = item.get(inner) or {}
                out[key][name] = _inline(body, fields, path.parent, f"{path}: {inner} {name}")
        current = current or doc.get("current-context") or None
    out["current-context"] = current
    return out


def minimal(merged_config: Mapping[str, Any], context: str, where: str) -> dict[str, Any]:
    """One context, its cluster and its user: all a provider needs, nothing else of the files."""
    ctx = merged_config["contexts"].get(context)
    if ctx is None:
        known = ", ".join(sorted(merged_config["contexts"])) or "none"
        raise KubeconfigError(f"{where}: no context {context!r} (contexts: {known})")
    cluster, user = ctx.get("cluster"), ctx.get("user")
    if cluster not in merged_config["clusters"]:
        raise KubeconfigError(f"{where}: context {context!r} names cluster {cluster!r}, which no file defines")
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": merged_config["clusters"][cluster]}],
        "contexts": [{"name": context, "context": ctx}],
        "current-context": context,
        "users": [],
    }
    if user is not None:
        if user not in merged_config["users"]:
            raise KubeconfigError(f"{where}: context {context!r} names user {user!r}, which no file defines")
        doc["users"] = [{"name": user, "user": merged_config["users"][user]}]
    return doc


def load_minimal(paths: list[Path], context: str) -> str:
    """The minimal kubeconfig of `context` from the files kubectl would read (missing files skipped)."""
    where = "KUBECONFIG " + os.pathsep.join(str(p) for p in paths)
    present = [p for p in paths if p.is_file()]
    if not present:
        raise KubeconfigError(f"{where}: no such file")
    return yaml.safe_dump(minimal(merged((p, p.read_text()) for p in present), context, where), sort_keys=False)


def server_digest(kubeconfig: str) -> str:
    """A short hash of the API server a minimal kubeconfig points at: the cluster's identity for the provider."""
    doc = yaml.safe_load(kubeconfig)
    server = str(doc["clusters"][0]["cluster"].get("server", ""))
    return hashlib.sha256(server.encode()).hexdigest()[:12]
