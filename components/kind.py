"""kind clusters: the generated kind config, and a dynamic provider that makes them on a host.

The provider runs `kind` on the host that carries the Docker engine, locally or over SSH
(`components.hostrun`). A cluster of the stack's name that is already there is refused,
unless the stack says to adopt it (`meshperf:kubernetes.clusters.<name>.adopt: true`);
then it is checked against the stack (node labels, pod and service subnets) and never
deleted by this stack. Deleting a cluster that is gone succeeds. It returns the kubeconfig,
which the component marks secret.

A change to any of `REPLACE_KEYS` re-creates the cluster under the same name; its identity
(`cluster_identity`, a hash of those inputs) changes with it, so that the Kubernetes
provider built on it, and everything in the cluster, is replaced too (components.cluster).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import shlex
from collections.abc import Mapping
from typing import Any

import yaml
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from components.hostrun import Run, RunError, check, check_long, host_key, host_label, open_runner, progress
from spec.kubernetes import ClusterSettings
from spec.model import Cluster

KIND_API = "kind.x-k8s.io/v1alpha4"
# Inputs of a kind cluster that cannot change in place.
REPLACE_KEYS = ("name", "config", "host", "kind")
# Where kubectl finds the cluster inside its control-plane container (kubeadm's admin kubeconfig).
ADMIN_CONF = "/etc/kubernetes/admin.conf"


def kind_config(cluster: Cluster, settings: ClusterSettings, node_image: str) -> str:
    """The kind config of a spec cluster: its nodes in order, their labels, its address families and subnets
    (a dual-stack cluster's as kind wants them: both families' CIDRs, comma-separated, IPv4 first), and the
    API server's address on its host (`ClusterSettings.api_server`: the one its kubeconfig will name)."""
    api_server = settings.api_server()
    if api_server is None:
        raise ValueError("api_server_address: the SSH host is a name; give its IPv4 address")
    networking: dict[str, Any] = {
        "ipFamily": cluster.ip_family,
        "podSubnet": ",".join(str(cluster.subnets(f)[0]) for f in cluster.families),
        "serviceSubnet": ",".join(str(cluster.subnets(f)[1]) for f in cluster.families),
        "apiServerAddress": str(api_server),
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


def container_names(name: str, roles: list[str]) -> list[str]:
    """The node containers kind makes for nodes of these roles, in config order.

    kind's rule (pkg/cluster/internal/providers/common/namer.go, MakeNodeNamer): the first
    node of a role is `<cluster>-<role>`, the next ones `<cluster>-<role>2`, `-<role>3`...
    """
    seen: dict[str, int] = {}
    names = []
    for role in roles:
        seen[role] = seen.get(role, 0) + 1
        names.append(f"{name}-{role}{seen[role] if seen[role] > 1 else ''}")
    return names


def cluster_identity(props: Mapping[str, Any]) -> str:
    """A short hash of the inputs that re-create the cluster: it changes exactly when `diff` replaces it."""
    chosen = {key: _identity_of(props, key) for key in REPLACE_KEYS}
    return hashlib.sha256(json.dumps(chosen, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _identity_of(props: Mapping[str, Any], key: str) -> Any:
    return host_key(props.get(key)) if key == "host" else props.get(key)


def adopt_key(name: str) -> str:
    return f"meshperf:kubernetes.clusters.{name}.adopt"


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


async def create_or_clean_up(run: Run, kind: str, name: str, config: str, where: str) -> None:
    """`kind create cluster`; if it fails or times out (the runner has stopped it), delete what it left
    (node containers, a kubeconfig entry), so that the next `up` does not find a cluster it did not make."""
    try:
        await check_long(run, create_command(kind, name, config), f"kind create cluster {name} on {where}")
    except RunError as exc:
        progress(f"kind create cluster {name} on {where} failed: deleting what it left")
        rc, _, err = await run(f"{shlex.quote(kind)} delete cluster --name {shlex.quote(name)}")
        left = "" if rc == 0 else f"; cleaning up failed too ({(err.strip().splitlines() or ['?'])[-1]})"
        raise RunError(f"{exc}{left}") from None


def _networks(cidrs: str) -> set[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """A kubeadm/kind subnet value (one CIDR, or one per family comma-separated) as networks."""
    return {ipaddress.ip_network(c.strip(), strict=False) for c in cidrs.split(",")}


def mismatches(
    config: str, name: str, labels_by_node: Mapping[str, Mapping[str, str]], subnets: Mapping[str, str]
) -> list[str]:
    """How a running cluster differs from the kind config the stack would make it from (empty: it matches).

    `labels_by_node`: node name -> its labels (kubectl get nodes); `subnets`: kubeadm's
    ClusterConfiguration `networking` (podSubnet, serviceSubnet).
    """
    wanted = yaml.safe_load(config)
    problems = []
    for key in ("podSubnet", "serviceSubnet"):
        want, have = wanted["networking"][key], subnets.get(key)
        if have is None or _networks(str(have)) != _networks(want):
            problems.append(f"{key} is {have}, the stack says {want}")
    nodes = wanted["nodes"]
    for node, container in zip(nodes, container_names(name, [n["role"] for n in nodes]), strict=True):
        if container not in labels_by_node:
            problems.append(f"node {container} is missing")
            continue
        have_labels = labels_by_node[container]
        for key, value in sorted((node.get("labels") or {}).items()):
            if have_labels.get(key) != value:
                problems.append(f"node {container} has {key}={have_labels.get(key)}, the stack says {key}={value}")
    extra = sorted(set(labels_by_node) - set(container_names(name, [n["role"] for n in nodes])))
    if extra:
        problems.append(f"nodes the stack does not declare: {', '.join(extra)}")
    return problems


async def running_cluster(run: Run, docker: str, name: str) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """A kind cluster's node labels and kubeadm networking, by kubectl in its control-plane container."""
    q = shlex.quote
    kubectl = f"{q(docker)} exec {q(name + '-control-plane')} kubectl --kubeconfig {ADMIN_CONF}"
    nodes = json.loads(await check(run, f"{kubectl} get nodes -o json", f"kubectl get nodes in kind cluster {name}"))
    labels = {item["metadata"]["name"]: dict(item["metadata"].get("labels") or {}) for item in nodes["items"]}
    # kubeadm keeps the ClusterConfiguration kind gave it (networking.podSubnet/serviceSubnet) in this ConfigMap.
    text = await check(
        run,
        f"{kubectl} -n kube-system get configmap kubeadm-config -o jsonpath='{{.data.ClusterConfiguration}}'",
        f"kubeadm-config of kind cluster {name}",
    )
    networking = (yaml.safe_load(text) or {}).get("networking") or {}
    return labels, {k: str(v) for k, v in networking.items()}


class KindClusterProvider(ResourceProvider):
    """Inputs: name, config (kind YAML), host (hostrun dict), kind and docker (executables), adopt.

    Outputs add kubeconfig and adopted (true: the cluster was there before, the stack never deletes it).
    """

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> Any:
        from pulumi.dynamic import CheckFailure, CheckResult

        failures = [CheckFailure(key, f"{key} is required") for key in ("name", "config", "host") if not news.get(key)]
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = asyncio.run(self._create(props))
        return CreateResult(id_=str(props["name"]), outs=outs)

    async def _create(self, props: dict[str, Any]) -> dict[str, Any]:
        kind, name = str(props.get("kind") or "kind"), str(props["name"])
        docker = str(props.get("docker") or "docker")
        where = host_label(props["host"])
        async with open_runner(props["host"]) as run:
            adopted = await cluster_exists(run, kind, name)
            if adopted and not props.get("adopt"):
                raise RuntimeError(
                    f"kind cluster {name} already exists on {where} and this stack did not create it: "
                    f"delete it (kind delete cluster --name {name}) or set {adopt_key(name)}: true to use it as it is"
                )
            if adopted:
                progress(
                    f"kind cluster {name} on {where}: adopting the existing cluster, checking it against the stack"
                )
                labels, subnets = await running_cluster(run, docker, name)
                problems = mismatches(str(props["config"]), name, labels, subnets)
                if problems:
                    raise RuntimeError(
                        f"kind cluster {name} on {where} (adopted, {adopt_key(name)}) does not match the stack: "
                        + "; ".join(problems)
                    )
            else:
                await create_or_clean_up(run, kind, name, str(props["config"]), where)
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
        replaces = [key for key in REPLACE_KEYS if _identity_of(olds, key) != _identity_of(news, key)]
        # An SSH host's run settings (its command timeout) alone change in place.
        changed = replaces or [key for key in ("adopt", "docker", "host") if olds.get(key) != news.get(key)]
        # One name per host: the old cluster must go before the new one is made.
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Only `adopt`, `docker` or the host's command timeout changed: nothing to do on the host;
        who made the cluster stays as it was."""
        return UpdateResult(outs={**news, "kubeconfig": olds.get("kubeconfig"), "adopted": olds.get("adopted")})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        asyncio.run(self._delete(id_, props))

    async def _delete(self, id_: str, props: dict[str, Any]) -> None:
        where = host_label(props["host"])
        if props.get("adopted"):
            progress(f"kind cluster {id_} on {where}: left in place (adopted; this stack did not create it)")
            return
        kind = str(props.get("kind") or "kind")
        async with open_runner(props["host"]) as run:
            if await cluster_exists(run, kind, id_):
                await check_long(
                    run,
                    f"{shlex.quote(kind)} delete cluster --name {shlex.quote(id_)}",
                    f"kind delete cluster {id_} on {where}",
                )
