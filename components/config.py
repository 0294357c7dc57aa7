"""The Kubernetes backend's own settings, and reading a stack's config into spec + settings.

The spec model (`spec.model.Stack`) says what to measure; this module holds what only the
Kubernetes backend needs: where each cluster comes from (a kind cluster made on a host, or
an existing one by kubeconfig context), the tool image, the log volumes, the namespace.
They live under one key, `meshperf:kubernetes` (modelled in `spec.kubernetes`); this
module checks them against the rest of the stack.

A cluster whose spec names a `kubeconfig_context` is an existing cluster; any other is a
kind cluster.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from manifests import Scene
from manifests.base import builds_image, pull_policy
from spec.kubernetes import KIND_NODE_IMAGES, ClusterSettings, KubernetesSettings
from spec.load import StackError, stack_from_config
from spec.model import Stack
from spec.plan import build_plan

KEY = "kubernetes"


class Settings:
    """Spec and backend settings, checked against each other."""

    def __init__(self, stack: Stack, kube: KubernetesSettings) -> None:
        self.stack = stack
        self.kube = kube

    def cluster(self, name: str) -> ClusterSettings:
        return self.kube.clusters.get(name, ClusterSettings())

    def is_kind(self, name: str) -> bool:
        return self.stack.cluster(name).kubeconfig_context is None

    def builds_image(self) -> bool:
        return builds_image(self.stack, self.kube)

    def pull_policy(self) -> str:
        return pull_policy(self.stack, self.kube)

    def routes_kind_clusters(self) -> bool:
        """Two kind clusters on one host: meshperf routes them to each other (`KindMeshRoutes`)."""
        kinds = [c.name for c in self.stack.clusters if self.is_kind(c.name)]
        return len(kinds) == 2 and self.cluster(kinds[0]).host == self.cluster(kinds[1]).host

    def node_image(self, name: str) -> str:
        settings = self.cluster(name)
        if settings.node_image:
            return settings.node_image
        return KIND_NODE_IMAGES[self.stack.cluster(name).version]

    def kubeconfig_path(self, name: str) -> Path:
        given = self.cluster(name).kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        return Path(given).expanduser() if given else Path.home() / ".kube" / "config"


def _check(stack: Stack, kube: KubernetesSettings) -> None:
    names = {c.name for c in stack.clusters}
    where = f"meshperf:{KEY}"
    for name in kube.clusters:
        if name not in names:
            raise StackError(f"{where}.clusters.{name}: no cluster named {name!r} in meshperf:clusters")
    settings = Settings(stack, kube)
    for cluster in stack.clusters:
        given = kube.clusters.get(cluster.name)
        if settings.is_kind(cluster.name):
            if given and given.kubeconfig:
                raise StackError(
                    f"{where}.clusters.{cluster.name}.kubeconfig: only for existing clusters "
                    "(give the cluster a kubeconfig_context)"
                )
            if not (given and given.node_image) and cluster.version not in KIND_NODE_IMAGES:
                raise StackError(
                    f"{where}.clusters.{cluster.name}.node_image: no kind node image known for Kubernetes "
                    f"{cluster.version} (known: {', '.join(KIND_NODE_IMAGES)}); name one"
                )
        elif given and (given.host != "local" or given.node_image or given.api_server_port):
            raise StackError(
                f"{where}.clusters.{cluster.name}: host, node_image and api_server_port are for kind clusters; "
                f"{cluster.name!r} is an existing cluster (it names a kubeconfig_context)"
            )
    if kube.image.build and not all(settings.is_kind(c.name) for c in stack.clusters):
        raise StackError(
            f"{where}.image.build: an image can only be loaded into kind clusters; "
            "push the image and name it in image.name for existing clusters"
        )
    _check_masquerade(stack, kube, settings, where)
    kind_hosts = {
        json.dumps(settings.cluster(c.name).host, default=str) for c in stack.clusters if settings.is_kind(c.name)
    }
    ports = [settings.cluster(c.name).api_server_port for c in stack.clusters if settings.is_kind(c.name)]
    given_ports = [p for p in ports if p is not None]
    if len(kind_hosts) == 1 and len(set(given_ports)) != len(given_ports):
        raise StackError(f"{where}.clusters: two kind clusters on one host cannot share api_server_port")


def _check_masquerade(stack: Stack, kube: KubernetesSettings, settings: Settings, where: str) -> None:
    """kindnet masquerades pod traffic leaving a cluster's pod subnet to the node's IP, so the other
    cluster's policies must admit the sending cluster's nodes: meshperf reads their IPs where it routes
    two kind clusters itself, and a stack must declare them anywhere else."""
    if settings.routes_kind_clusters():
        return
    scene = Scene(stack, build_plan(stack), kube)
    for cluster in sorted(scene.cross_clusters()):
        if not scene.node_cidrs(cluster):
            raise StackError(
                f"{where}.clusters.{cluster}.node_cidrs: {cluster}'s pods send to the other cluster and kindnet "
                f"masquerades them to their node's IP; declare {cluster}'s node addresses so that policies admit them"
            )


def settings_from_config(config: Mapping[str, object], where: str = "stack") -> Settings:
    """Validate the `meshperf:` keys (prefix stripped): spec's keys by spec, ours here."""
    stack = stack_from_config(config, where)
    kube = stack.kubernetes
    try:
        _check(stack, kube)
    except StackError as exc:
        raise StackError(f"{where}: {exc}") from None
    return Settings(stack, kube)


def _value(raw: object) -> object:
    """Pulumi hands structured config over as JSON text; plain strings stay strings."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def meshperf_config(all_config: Mapping[str, object], namespace: str = "meshperf") -> dict[str, object]:
    """The `namespace:` keys of a Pulumi config map, prefix stripped, values decoded."""
    prefix = f"{namespace}:"
    return {k.removeprefix(prefix): _value(v) for k, v in all_config.items() if k.startswith(prefix)}
