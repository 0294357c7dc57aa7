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

from components.kubeconfig import kubeconfig_files
from manifests import Scene
from manifests.base import builds_image, pull_policy
from spec.kubernetes import KIND_NODE_IMAGES, KIND_VERSION, ClusterSettings, KubernetesSettings, kind_node_image
from spec.load import StackError, stack_from_config
from spec.model import Link, Stack, link_routed_by_meshperf
from spec.plan import build_plan

KUBERNETES_KEY = "kubernetes"


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
        """Two kind clusters on one host: meshperf routes them to each other (`KindMeshRoutes`), and
        makes the link between them, with its MTU and rate."""
        return link_routed_by_meshperf(self.stack)

    def node_image(self, name: str) -> str:
        settings = self.cluster(name)
        if settings.node_image:
            return settings.node_image
        image = kind_node_image(self.stack.cluster(name).kubernetes_version)
        assert image is not None, "checked by _check"
        return image

    def kubeconfig_paths(self, name: str) -> list[Path]:
        """The kubeconfig files of an existing cluster, in kubectl's order: the stack's, else all of KUBECONFIG."""
        return kubeconfig_files(self.cluster(name).kubeconfig, os.environ)


def _check(stack: Stack, kube: KubernetesSettings) -> None:
    names = {c.name for c in stack.clusters}
    where = f"meshperf:{KUBERNETES_KEY}"
    for name in kube.clusters:
        if name not in names:
            raise StackError(f"{where}.clusters.{name}: no cluster named {name!r} in meshperf:clusters")
    settings = Settings(stack, kube)
    for index, cluster in enumerate(stack.clusters):
        given = kube.clusters.get(cluster.name)
        if settings.is_kind(cluster.name):
            if given and given.kubeconfig:
                raise StackError(
                    f"{where}.clusters.{cluster.name}.kubeconfig: only for existing clusters "
                    "(give the cluster a kubeconfig_context)"
                )
            if not (given and given.node_image) and kind_node_image(cluster.kubernetes_version) is None:
                raise StackError(
                    f"meshperf:clusters[{index}].kubernetes_version: kind {KIND_VERSION} has no node image for "
                    f"Kubernetes {cluster.kubernetes_version} (it has {', '.join(KIND_NODE_IMAGES)}); "
                    f"choose one, or name an image in {where}.clusters.{cluster.name}.node_image"
                )
            _check_api_server(settings.cluster(cluster.name), f"{where}.clusters.{cluster.name}")
            if given and "delete_unreachable" in given.model_fields_set:
                raise StackError(
                    f"{where}.clusters.{cluster.name}.delete_unreachable: for existing clusters; a kind cluster's "
                    "objects are always forgotten with it when it is gone"
                )
        elif given and (
            given.host != "local"
            or given.node_image
            or given.api_server_port
            or given.api_server_address
            or given.adopt
        ):
            raise StackError(
                f"{where}.clusters.{cluster.name}: host, node_image, api_server_address, api_server_port and adopt "
                f"are for kind clusters; {cluster.name!r} is an existing cluster (it names a kubeconfig_context)"
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
    if stack.link != Link() and not settings.routes_kind_clusters():
        raise StackError(f"meshperf:link: {_no_link_reason(stack, settings)}; leave meshperf:link out")


def _check_api_server(own: ClusterSettings, where: str) -> None:
    """kind writes the API server's listen address into the kubeconfig that this machine uses: it must
    be one this machine reaches, so never loopback when kind runs on another machine."""
    key = f"{where}.api_server_address"
    if own.host == "local" or not own.remote():
        return
    address = own.api_server()
    if address is None:
        raise StackError(
            f"{key}: kind runs on SSH host {own.host.address!r}, a name; give that host's IPv4 address that this "
            "machine reaches (kind's API server listens there and its kubeconfig names it)"
        )
    if address.is_loopback or address.is_unspecified:
        what = "the loopback" if address.is_loopback else "no one address"
        raise StackError(
            f"{key}: {address} is {what} of SSH host {own.host.address!r}, and kind names it in the kubeconfig this "
            "machine uses; leave it out (the SSH host's address) or give an address of that host this machine reaches"
        )


def _no_link_reason(stack: Stack, settings: Settings) -> str:
    """Why meshperf cannot apply the link's MTU and rate on Kubernetes for this stack."""
    if len(stack.clusters) < 2:
        return "there is one cluster, so no link between clusters"
    existing = [c.name for c in stack.clusters if not settings.is_kind(c.name)]
    if existing:
        return (
            f"MTU and rate are applied only between kind clusters that meshperf routes; {', '.join(existing)} "
            "is an existing cluster, whose network meshperf does not change"
        )
    return "MTU and rate are applied only between kind clusters on one Docker host; these are on different hosts"


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
