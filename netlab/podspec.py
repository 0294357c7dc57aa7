"""What a container runs, read from a Pod's spec as the kubelet and the container runtime read it (pure).

The input is the plain camelCase object the API server would hold; the output is a
`ContainerRun`: the exact argv, env, identity, working directory and mounts, with nothing
taken from the host's environment. Volume contents (ConfigMap files) are described here and
written by the kubelet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from netlab.rootfs import Userland

Obj = Mapping[str, Any]
CONFIGMAP_DEFAULT_MODE = 0o644
REF_RE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class PodSpecError(ValueError):
    """A pod the lab cannot run as written; str() names the pod, the container and the field."""


class BindMount(BaseModel):
    """A host path (a volume's folder or file) bound at `target` inside the container."""

    source: str
    target: str
    readonly: bool


class ConfigMapFile(BaseModel):
    """One projected key: written under the volume's folder at `path` with `mode`."""

    volume: str
    path: str
    content: str
    mode: int


class ContainerRun(BaseModel):
    """Everything the container init needs (netlab/container_init.py reads it as JSON)."""

    pod: str
    name: str
    argv: list[str]
    env: dict[str, str]
    uid: int
    gid: int
    groups: list[int]
    workdir: str
    readonly_root: bool
    no_new_privs: bool
    drop_all_capabilities: bool = False
    hostname: str
    mounts: list[BindMount]
    lower: str


class PodVolumes(BaseModel):
    """A pod's volumes on the node: folders to create (emptyDir), files to write (ConfigMaps), claims."""

    empty_dirs: list[str]
    configmap_files: list[ConfigMapFile]
    sources: dict[str, str]


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined names are replaced, `$$` escapes, anything else stays."""

    def one(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        return env.get(match[1], match[0])

    return REF_RE.sub(one, text)


def _where(pod: str, container: str | None = None) -> str:
    return f"pod {pod}" + (f" container {container}" if container else "")


def container_env(
    pod: str,
    container: Obj,
    field_values: Mapping[str, str],
    configmaps: Mapping[str, Obj],
    userland: Userland,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, str]:
    """The image's ENV, then the container's `env` in order (later entries may refer to earlier ones).

    `secrets`: Secret name -> its data, as text (the lab keeps Secrets in memory, never in a file)."""
    env = dict(userland.env)
    env["HOSTNAME"] = pod
    for item in container.get("env") or []:
        name = str(item["name"])
        if "value" in item:
            env[name] = expand(str(item["value"]), env)
        elif (source := item.get("valueFrom") or {}).get("fieldRef"):
            path = str(source["fieldRef"]["fieldPath"])
            if path not in field_values:
                raise PodSpecError(f"{_where(pod, container['name'])}: env {name}: fieldPath {path} is not known here")
            env[name] = field_values[path]
        elif ref := source.get("configMapKeyRef"):
            data = (configmaps.get(str(ref["name"])) or {}).get("data") or {}
            if ref["key"] not in data:
                raise PodSpecError(
                    f"{_where(pod, container['name'])}: env {name}: no key {ref['key']} in {ref['name']}"
                )
            env[name] = str(data[ref["key"]])
        elif ref := source.get("secretKeyRef"):
            values = (secrets or {}).get(str(ref["name"]))
            if values is None or ref["key"] not in values:
                missing = (
                    f"no Secret {ref['name']}" if values is None else f"no key {ref['key']} in Secret {ref['name']}"
                )
                raise PodSpecError(f"{_where(pod, container['name'])}: env {name}: {missing}")
            env[name] = str(values[ref["key"]])
        else:
            env[name] = ""
    return env


def identity(pod: str, spec: Obj, container: Obj, userland: Userland) -> tuple[int, int, list[int]]:
    """(uid, gid, supplementary groups): container securityContext over the pod's, over the image's USER."""
    pod_sc, ctr_sc = spec.get("securityContext") or {}, container.get("securityContext") or {}
    uid = ctr_sc.get("runAsUser", pod_sc.get("runAsUser", userland.uid))
    default_gid = userland.gid if uid == userland.uid else 0
    gid = ctr_sc.get("runAsGroup", pod_sc.get("runAsGroup", default_gid))
    non_root = ctr_sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot", False))
    if non_root and int(uid) == 0:
        raise PodSpecError(f"{_where(pod, container['name'])}: runAsNonRoot, but the container would run as root")
    groups = [int(g) for g in pod_sc.get("supplementalGroups") or []]
    if "fsGroup" in pod_sc:
        groups.insert(0, int(pod_sc["fsGroup"]))
    return int(uid), int(gid), sorted(set(groups))


def pod_volumes(
    pod: str, spec: Obj, configmaps: Mapping[str, Obj], claims: Mapping[str, Path], volumes_dir: Path
) -> PodVolumes:
    """Where each volume lives on the node, and what the kubelet must write there first."""
    empty_dirs: list[str] = []
    files: list[ConfigMapFile] = []
    sources: dict[str, str] = {}
    for volume in spec.get("volumes") or []:
        name = str(volume["name"])
        if "emptyDir" in volume:
            sources[name] = str(volumes_dir / name)
            empty_dirs.append(sources[name])
        elif cm := volume.get("configMap"):
            sources[name] = str(volumes_dir / name)
            files += _configmap_files(pod, name, cm, configmaps)
        elif pvc := volume.get("persistentVolumeClaim"):
            claim = str(pvc["claimName"])
            if claim not in claims:
                raise PodSpecError(f"{_where(pod)}: volume {name}: claim {claim} is not bound on this node")
            sources[name] = str(claims[claim])
        else:
            kinds = sorted(set(volume) - {"name"})
            raise PodSpecError(f"{_where(pod)}: volume {name}: {', '.join(kinds)} volumes are not supported in the lab")
    return PodVolumes(empty_dirs=empty_dirs, configmap_files=files, sources=sources)


def _configmap_files(pod: str, volume: str, source: Obj, configmaps: Mapping[str, Obj]) -> list[ConfigMapFile]:
    name = str(source["name"])
    if name not in configmaps:
        if source.get("optional"):
            return []
        raise PodSpecError(f"{_where(pod)}: volume {volume}: ConfigMap {name} not found")
    data = {str(k): str(v) for k, v in (configmaps[name].get("data") or {}).items()}
    mode = int(source.get("defaultMode", CONFIGMAP_DEFAULT_MODE))
    items = source.get("items")
    if items is None:
        return [ConfigMapFile(volume=volume, path=k, content=v, mode=mode) for k, v in sorted(data.items())]
    out = []
    for item in items:
        if item["key"] not in data:
            raise PodSpecError(f"{_where(pod)}: volume {volume}: no key {item['key']} in ConfigMap {name}")
        out.append(
            ConfigMapFile(
                volume=volume, path=str(item["path"]), content=data[item["key"]], mode=int(item.get("mode", mode))
            )
        )
    return out


def container_run(
    pod: str,
    spec: Obj,
    container: Obj,
    volumes: PodVolumes,
    env: Mapping[str, str],
    extra_mounts: list[BindMount],
    userland: Userland,
) -> ContainerRun:
    """The container's process: command/args (or the image's CMD) with $(VAR) expanded, its identity and mounts."""
    cname = str(container["name"])
    if "command" in container:
        argv = [*container["command"], *(container.get("args") or [])]
    else:
        argv = [*(container.get("args") or userland.cmd)]
    if not argv:
        raise PodSpecError(f"{_where(pod, cname)}: no command to run")
    uid, gid, groups = identity(pod, spec, container, userland)
    sc = container.get("securityContext") or {}
    mounts = list(extra_mounts)
    claims_ro = {
        str(v["name"]) for v in spec.get("volumes") or [] if (v.get("persistentVolumeClaim") or {}).get("readOnly")
    }
    configmap_volumes = {str(v["name"]) for v in spec.get("volumes") or [] if "configMap" in v}
    for mount in container.get("volumeMounts") or []:
        name = str(mount["name"])
        if name not in volumes.sources:
            raise PodSpecError(f"{_where(pod, cname)}: volumeMount {name}: no such volume in the pod")
        source = volumes.sources[name]
        if sub := mount.get("subPath"):
            source = str(Path(source) / str(sub))
        readonly = bool(mount.get("readOnly")) or name in claims_ro or name in configmap_volumes
        mounts.append(BindMount(source=source, target=str(mount["mountPath"]), readonly=readonly))
    return ContainerRun(
        pod=pod,
        name=cname,
        argv=[expand(str(a), env) for a in argv],
        env=dict(env),
        uid=uid,
        gid=gid,
        groups=groups,
        workdir=str(container.get("workingDir") or userland.workdir),
        readonly_root=bool(sc.get("readOnlyRootFilesystem", False)),
        no_new_privs=sc.get("allowPrivilegeEscalation") is False,
        drop_all_capabilities="ALL" in ((sc.get("capabilities") or {}).get("drop") or []),
        hostname=pod[:63],
        mounts=mounts,
        lower=userland.root,
    )
