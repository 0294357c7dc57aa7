"""kind clusters: the generated kind config, and a dynamic provider that makes them on a host.

The provider runs `kind` on the host that carries the Docker engine, locally or over SSH
(`components.hostrun`), and is idempotent: create adopts a cluster of that name that is
already there, delete of a cluster that is gone succeeds. It returns the kubeconfig, which
the component marks secret.
"""

from __future__ import annotations

import asyncio
import shlex
from typing import Any

import yaml
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider

from components.hostrun import Run, check, host_label, open_runner
from spec.kubernetes import ClusterSettings
from spec.model import Cluster

KIND_API = "kind.x-k8s.io/v1alpha4"
# Inputs of a kind cluster that cannot change in place.
REPLACE_KEYS = ("name", "config", "host", "kind")


def kind_config(cluster: Cluster, settings: ClusterSettings, node_image: str) -> str:
    """The kind config of a spec cluster: its nodes in order, their labels, its subnets."""
    networking: dict[str, Any] = {
        "ipFamily": "ipv4",
        "podSubnet": str(cluster.pod_subnet),
        "serviceSubnet": str(cluster.service_subnet),
        "apiServerAddress": str(settings.api_server_address),
    }
    if settings.api_server_port is not None:
        networking["apiServerPort"] = settings.api_server_port
    nodes: list[dict[str, Any]] = []
    for node in cluster.nodes:
        entry: dict[str, Any] = {"role": node.role, "image": node_image}
        if node.labels:
            entry["labels"] = dict(node.labels)
        nodes.append(entry)
    doc = {"kind": "Cluster", "apiVersion": KIND_API, "networking": networking, "nodes": nodes}
    return yaml.safe_dump(doc, sort_keys=False)


def kind_node_names(cluster: Cluster) -> dict[str, str]:
    """Spec node name -> the container kind makes for it (`<cluster>-control-plane`, `<cluster>-worker2`)."""
    return {node.name: f"{cluster.name}-{node.name}" for node in cluster.nodes}


async def cluster_exists(run: Run, kind: str, name: str) -> bool:
    out = await check(run, f"{shlex.quote(kind)} get clusters", "kind get clusters")
    return name in out.split()


def create_command(kind: str, name: str, config: str) -> str:
    """Write the config to a temporary file on the host, create the cluster from it, remove the file."""
    q = shlex.quote
    return (
        'cfg=$(mktemp) && printf "%s" '
        f'{q(config)} > "$cfg" && {q(kind)} create cluster --name {q(name)} --config "$cfg" --wait 5m; '
        'rc=$?; rm -f "$cfg"; exit $rc'
    )


class KindClusterProvider(ResourceProvider):
    """Inputs: name, config (kind YAML), host (hostrun dict), kind (executable). Outputs add kubeconfig."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> Any:
        from pulumi.dynamic import CheckFailure, CheckResult

        failures = [CheckFailure(key, f"{key} is required") for key in ("name", "config", "host") if not news.get(key)]
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = asyncio.run(self._create(props))
        return CreateResult(id_=str(props["name"]), outs=outs)

    async def _create(self, props: dict[str, Any]) -> dict[str, Any]:
        kind, name = str(props.get("kind") or "kind"), str(props["name"])
        where = host_label(props["host"])
        async with open_runner(props["host"]) as run:
            adopted = await cluster_exists(run, kind, name)
            if not adopted:
                await check(
                    run, create_command(kind, name, str(props["config"])), f"kind create cluster {name} on {where}"
                )
            kubeconfig = await check(
                run, f"{shlex.quote(kind)} get kubeconfig --name {shlex.quote(name)}", f"kind get kubeconfig {name}"
            )
        return {**props, "kubeconfig": kubeconfig, "adopted": adopted}

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        async def exists() -> bool:
            async with open_runner(props["host"]) as run:
                return await cluster_exists(run, str(props.get("kind") or "kind"), id_)

        return ReadResult(id_ if asyncio.run(exists()) else "", props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in REPLACE_KEYS if olds.get(key) != news.get(key)]
        # One name per host: the old cluster must go before the new one is made.
        return DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=True)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        asyncio.run(self._delete(id_, props))

    async def _delete(self, id_: str, props: dict[str, Any]) -> None:
        kind = str(props.get("kind") or "kind")
        async with open_runner(props["host"]) as run:
            if await cluster_exists(run, kind, id_):
                await check(
                    run, f"{shlex.quote(kind)} delete cluster --name {shlex.quote(id_)}", f"kind delete cluster {id_}"
                )
