"""Clusters: a kind cluster made by a dynamic provider, or an existing one by kubeconfig and context.

Either way the component holds one explicit `kubernetes.Provider` with `cluster_identifier`
set; the stack disables the default provider. pulumi-kubernetes replaces a provider that
has a `clusterIdentifier` only when that identifier changes, whatever else changes in its
kubeconfig (provider/pkg/provider/provider.go, `DiffConfig`), and the engine replaces every
resource whose provider's `DiffConfig` asks for a replacement (pulumi's
pkg/resource/deploy/step_generator.go, `providerChanged`). So the identifier names the
cluster itself: for kind, the hash of the inputs that re-create it (`kind.cluster_identity`),
so a re-created cluster gets a new provider and everything in it is made again; for an
existing cluster, its API server, so a new kubeconfig for the same server replaces nothing.

Re-creating a kind cluster deletes it before the new one is made (one name per host). Before
that delete, the engine asks which dependents must go first (pulumi's step_generator.go,
`calculateDependentReplacements`): it calls the provider's `DiffConfig` with the inputs that
come from the cluster made unknown. A plain-string identifier stays "the same" there, and
pulumi-kubernetes then drops the replacement, so the old objects would outlive their cluster
and be deleted later through a provider whose API server is gone. Hence, for kind:
- the identifier comes from the cluster resource's output (`identity`): unknown in that
  question, so the provider, and every object on it, is replaced before the cluster goes;
- every object made through the provider is `deleted_with` the cluster resource
  (`deleted_with`; the Suite sets it): the engine skips their Delete calls when the cluster
  itself is deleted (a replacement, or `destroy`), and replaces them with it;
- the provider has `delete_unreachable`: where the cluster is gone already (deleted by hand,
  Docker reset), `refresh` and `destroy` forget its objects instead of failing.
An adopted cluster is never deleted by the stack, so its objects are deleted one by one.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.dynamic import Resource

from components.config import Settings
from components.hostrun import host_props
from components.kind import KindClusterProvider, cluster_identity, kind_config
from components.kubeconfig import KubeconfigError, load_minimal, server_digest


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
    # The cluster's identity, resolved once the cluster is there: what the provider, the image load and the
    # routes follow.
    identity: pulumi.Output[str]
    # What every object in the cluster is deleted with (None: an adopted cluster, which the stack never deletes).
    deleted_with: pulumi.Resource | None

    def __init__(
        self, resource_name: str, settings: Settings, cluster: str, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("meshperf:kubernetes:KindCluster", resource_name, None, opts)
        spec_cluster = settings.stack.cluster(cluster)
        own = settings.cluster(cluster)
        self.name = cluster
        self.host = host_props(own.host if own.host == "local" else own.host.model_dump(), own.timeout_s())
        props = {
            "name": cluster,
            "config": kind_config(spec_cluster, own, settings.node_image(cluster)),
            "host": self.host,
            "kind": own.kind,
            "docker": own.docker,
            "adopt": own.adopt,
        }
        identifier = f"kind-{cluster}-{cluster_identity(props)}"
        # A few commands, each within the host's command timeout.
        limit = f"{int(own.timeout_s()) + 300}s"
        self.kind_cluster = KindClusterResource(
            f"{resource_name}-kind",
            props,
            pulumi.ResourceOptions(
                parent=self,
                additional_secret_outputs=["kubeconfig"],
                custom_timeouts=pulumi.CustomTimeouts(create=limit, delete=limit),
            ),
        )
        self.kubeconfig = pulumi.Output.secret(self.kind_cluster.kubeconfig)
        self.identity = self.kind_cluster.id.apply(lambda _id: identifier)
        self.deleted_with = None if own.adopt else self.kind_cluster
        self.provider = k8s.Provider(
            f"{resource_name}-k8s",
            kubeconfig=self.kubeconfig,
            cluster_identifier=self.identity,
            delete_unreachable=True,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})


class ExistingCluster(pulumi.ComponentResource):
    """A cluster that is already there: the spec's context, with its cluster and user, from the kubeconfig files."""

    name: str
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    deleted_with: pulumi.Resource | None

    def __init__(
        self, resource_name: str, settings: Settings, cluster: str, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("meshperf:kubernetes:ExistingCluster", resource_name, None, opts)
        context = settings.stack.cluster(cluster).kubeconfig_context
        assert context is not None
        try:
            kubeconfig = load_minimal(settings.kubeconfig_paths(cluster), context)
        except KubeconfigError as exc:
            raise pulumi.RunError(
                f"cluster {cluster}: {exc} (set KUBECONFIG or meshperf:kubernetes.clusters.{cluster}.kubeconfig)"
            ) from None
        self.name = cluster
        self.kubeconfig = pulumi.Output.secret(kubeconfig)
        self.deleted_with = None
        self.provider = k8s.Provider(
            f"{resource_name}-k8s",
            kubeconfig=self.kubeconfig,
            context=context,
            cluster_identifier=f"{cluster}-{server_digest(kubeconfig)}",
            # Only where the stack says so (the local live cluster): an existing cluster that is unreachable
            # for a while would otherwise lose its objects from the state. None, not False: then
            # PULUMI_K8S_DELETE_UNREACHABLE=true still decides, for a destroy after the cluster is gone.
            delete_unreachable=True if settings.cluster(cluster).delete_unreachable else None,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})
