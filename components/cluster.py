"""Clusters: a kind cluster made by a dynamic provider, or an existing one by kubeconfig and context.

Either way the component holds one explicit `kubernetes.Provider` with `cluster_identifier`
set, so that a new kubeconfig (a recreated kind cluster has new certificates) does not
replace every object in it; the stack disables the default provider.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.dynamic import Resource

from components.config import Settings
from components.hostrun import host_props
from components.kind import KindClusterProvider, kind_config


class KindClusterResource(Resource, module="meshperf", name="KindCluster"):
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(KindClusterProvider(), name, {**props, "kubeconfig": None, "adopted": None}, opts)


class KindCluster(pulumi.ComponentResource):
    """A kind cluster from the spec's nodes (roles, labels) and subnets, made on its host."""

    name: str
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    host: dict[str, Any]

    def __init__(
        self, resource_name: str, settings: Settings, cluster: str, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("meshperf:kubernetes:KindCluster", resource_name, None, opts)
        spec_cluster = settings.stack.cluster(cluster)
        own = settings.cluster(cluster)
        self.name = cluster
        self.host = host_props(own.host if own.host == "local" else own.host.model_dump())
        self.kind_cluster = KindClusterResource(
            f"{resource_name}-kind",
            {
                "name": cluster,
                "config": kind_config(spec_cluster, own, settings.node_image(cluster)),
                "host": self.host,
                "kind": own.kind,
            },
            pulumi.ResourceOptions(
                parent=self,
                additional_secret_outputs=["kubeconfig"],
                custom_timeouts=pulumi.CustomTimeouts(create="20m", delete="10m"),
            ),
        )
        self.kubeconfig = pulumi.Output.secret(self.kind_cluster.kubeconfig)
        self.provider = k8s.Provider(
            f"{resource_name}-k8s",
            kubeconfig=self.kubeconfig,
            cluster_identifier=f"kind-{cluster}",
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})


class ExistingCluster(pulumi.ComponentResource):
    """A cluster that is already there: its kubeconfig file (a secret) and the spec's context."""

    name: str
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(
        self, resource_name: str, settings: Settings, cluster: str, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("meshperf:kubernetes:ExistingCluster", resource_name, None, opts)
        context = settings.stack.cluster(cluster).kubeconfig_context
        assert context is not None
        path = settings.kubeconfig_path(cluster)
        if not path.is_file():
            raise pulumi.RunError(
                f"cluster {cluster}: no kubeconfig at {path} (set KUBECONFIG or meshperf:kubernetes.clusters."
                f"{cluster}.kubeconfig)"
            )
        self.name = cluster
        self.kubeconfig = pulumi.Output.secret(path.read_text())
        self.provider = k8s.Provider(
            f"{resource_name}-k8s",
            kubeconfig=self.kubeconfig,
            context=context,
            cluster_identifier=f"{cluster}-{context}",
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})
