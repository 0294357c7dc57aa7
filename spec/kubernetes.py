"""The Kubernetes backend's settings: the `meshperf:kubernetes` key of a stack.

What to measure is the rest of the stack; this says how the clusters are reached or made
(kind on a host, or existing by kubeconfig context), which tool image the pods run, and
the log volumes. Every key is optional: without it, clusters are kind clusters on this
machine and the image is built from `images/`. The lab ignores it.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, field_validator

from spec.base import NAME_RE, Bool, Float, Int, Strict, computed_default, shown
from spec.image import tool_image

# The kind release docs/kubernetes.md and the workflow install; the node images below are built for it.
KIND_VERSION = "v0.24.0"
# The node images kind v0.24.0's release notes list, by digest: "You *must* use the @sha256
# digest to guarantee an image built for this release". A stack may name its own (node_image).
KIND_NODE_IMAGES: dict[str, str] = {
    "1.31.0": "kindest/node:v1.31.0@sha256:53df588e04085fd41ae12de0c3fe4c72f7013bba32a20e7325357a1ac94ba865",
    "1.30.4": "kindest/node:v1.30.4@sha256:976ea815844d5fa93be213437e3ff5754cd599b040946b5cca43ca45c2047114",
    "1.30.3": "kindest/node:v1.30.3@sha256:bf91e1ef2f7d92bb7734b2b896b3dddea98f0496b34d96e37dd5d7df331b7e56",
    "1.29.8": "kindest/node:v1.29.8@sha256:d46b7aa29567e93b27f7531d258c372e829d7224b25e3fc6ffdefed12476d3aa",
    "1.29.7": "kindest/node:v1.29.7@sha256:f70ab5d833fca132a100c1f95490be25d76188b053f49a3c0047ff8812360baf",
    "1.28.13": "kindest/node:v1.28.13@sha256:45d319897776e11167e4698f6b14938eb4d52eb381d9e3d7a9086c16c69a8110",
    "1.28.12": "kindest/node:v1.28.12@sha256:fa0e48b1e83bb8688a5724aa7eebffbd6337abd7909ad089a2700bf08c30c6ea",
    "1.27.16": "kindest/node:v1.27.16@sha256:3fd82731af34efe19cd54ea5c25e882985bafa2c9baefe14f8deab1737d9fabe",
    "1.26.15": "kindest/node:v1.26.15@sha256:1cc15d7b1edd2126ef051e359bf864f37bbcf1568e61be4d2ed1df7a3e87b354",
    "1.25.16": "kindest/node:v1.25.16@sha256:6110314339b3b44d10da7d27881849a87e092124afab5956f2e10ecdb463b025",
}


def kind_node_image(kubernetes_version: str) -> str | None:
    """kind's node image for a Kubernetes version: "1.30.3" exactly, "1.30" its newest patch; None if none."""
    version = kubernetes_version.lstrip("v")
    if version in KIND_NODE_IMAGES:
        return KIND_NODE_IMAGES[version]
    patches = [v for v in KIND_NODE_IMAGES if v.rsplit(".", 1)[0] == version]
    return KIND_NODE_IMAGES[max(patches, key=lambda v: int(v.rsplit(".", 1)[1]))] if patches else None


class SshHost(Strict):
    """A machine reached over SSH (asyncssh); its host key is always checked."""

    address: str
    """The machine's address or host name."""
    port: Annotated[Int, Field(ge=1, le=65535)] = 22
    """The SSH port."""
    user: str = "root"
    """The user to log in as."""
    key: str | None = None
    """A private key file. Unset: asyncssh's defaults."""
    known_hosts: str | None = None
    """A known_hosts file. Unset: asyncssh's default (~/.ssh/known_hosts)."""
    command_timeout_s: Annotated[Float, Field(gt=0)] | None = None
    """The older place of the cluster's `command_timeout_s`; when given, it is used instead."""


class ClusterSettings(Strict):
    """How one cluster of the spec is reached or made."""

    host: Literal["local"] | SshHost = "local"
    """Where the kind cluster runs: `local`, or an SSH host `{address, port, user, key, known_hosts}`."""

    @field_validator("host", mode="before")
    @classmethod
    def _host_shape(cls, v: object) -> object:
        if v == "local" or isinstance(v, dict | SshHost):
            return v
        raise ValueError(f"host is local or an SSH host {{address, port, user, key, known_hosts}}; not {shown(v)}")

    node_image: str | None = None
    """The kind node image. Unset: kind's image for `kubernetes_version`."""
    api_server_address: ipaddress.IPv4Address | None = None
    """Where kind's API server listens on its host, and so the server its kubeconfig names. Unset: 127.0.0.1 for kind on
    this machine; the SSH host's address for kind over SSH.
    """
    api_server_port: Annotated[Int, Field(ge=1, le=65535)] | None = None
    """The port kind's API server listens on. Unset: kind picks one."""
    kind: str = "kind"
    """The kind executable."""
    docker: str = "docker"
    """The docker executable."""
    command_timeout_s: Annotated[Float, Field(gt=0)] = 3600.0
    """How long one kind or docker command on the cluster's host may take (kind create with a first node image pull, the
    tool image's build), in seconds: then it is stopped, and a half-made cluster deleted.
    """
    delete_unreachable: Bool = False
    """Existing clusters: forget the stack's objects when the cluster cannot be reached (destroy and refresh of a
    cluster that is gone). kind clusters always do; off for a cluster that may only be unreachable for a while (its
    objects would be dropped from the state while still there).
    """
    adopt: Bool = False
    """Use a kind cluster of this name that is already on the host (checked against the stack, never deleted)."""
    kubeconfig: str | None = None
    """Existing clusters only: the kubeconfig file(s), `:`-separated, merged as kubectl merges them. Unset: every file
    of $KUBECONFIG, then ~/.kube/config.
    """
    node_cidrs: tuple[ipaddress.IPv4Network, ...] = ()
    """The addresses of this cluster's nodes. kindnet masquerades pod traffic that leaves the cluster's pod subnet to
    the node's IP, so the other cluster's policies must admit these. Needed where this cluster's clients reach the other
    cluster and meshperf does not route the two itself (KindMeshRoutes reads the node IPs of two kind clusters on one
    host).
    """

    def remote(self) -> bool:
        """kind runs on another machine: an SSH host whose address is not one of this machine's loopback."""
        if self.host == "local":
            return False
        try:
            return not ipaddress.ip_address(self.host.address).is_loopback
        except ValueError:
            return self.host.address != "localhost"

    def api_server(self) -> ipaddress.IPv4Address | None:
        """The API server's address: as given; else 127.0.0.1 on this machine, the SSH host's IPv4 address
        over SSH (None: the SSH host is named, not addressed; the stack must say which address)."""
        if self.api_server_address is not None:
            return self.api_server_address
        if self.host == "local":
            return ipaddress.IPv4Address("127.0.0.1")
        try:
            return ipaddress.IPv4Address(self.host.address)
        except ValueError:
            return None

    def timeout_s(self) -> float:
        """The command timeout on this cluster's host (the SSH host's own, where it still gives one)."""
        given = self.host.command_timeout_s if self.host != "local" else None
        return given or self.command_timeout_s


class ImageSettings(Strict):
    name: str = Field(default_factory=tool_image, json_schema_extra=computed_default)
    """The tool image the pods run. Default: meshperf-tools:<hash of images/Dockerfile and images/packages.txt>
    (spec.image)."""
    build: Bool | None = None
    """Build the image from images/ and load it into each kind cluster. Unset: when every cluster is a kind cluster."""
    pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    """The pods' imagePullPolicy. Unset: `Never` for an image loaded into kind, else `IfNotPresent`."""


class LogSettings(Strict):
    size: Annotated[str, Field(pattern=r"^\d+(Ki|Mi|Gi)$")] = "1Gi"
    """The size of each log claim."""
    storage_class: str | None = None
    """The log claims' storage class. Unset: the cluster's default."""
    mount_path: Annotated[str, Field(pattern=r"^/[-a-z0-9/_]*$")] = "/logs"
    """Where the pods mount the log volume."""


class ResultSettings(Strict):
    enabled: Bool = True
    """Read the logs back into stack outputs (the `Results` resource)."""
    read_timeout_s: Annotated[Int, Field(ge=5, le=3600)] = 120
    """The most reading the logs back may take, in seconds."""


class KubernetesSettings(Strict):
    namespace: Annotated[str, Field(pattern=NAME_RE, max_length=40)] = "meshperf"
    """The namespace of the test pods (the host baseline's pods go to `<namespace>-host`)."""
    clusters: dict[str, ClusterSettings] = Field(default_factory=dict)
    """Per cluster of the stack, by name: how it is reached or made."""
    image: ImageSettings = Field(default_factory=ImageSettings)
    """The tool image."""
    logs: LogSettings = LogSettings()
    """The log volumes."""
    results: ResultSettings = ResultSettings()
    """Reading the results back."""
    job_slack_s: Annotated[Int, Field(ge=0, le=3600)] = 300
    """Time a Job gets beyond its planned run time before Kubernetes stops it (`activeDeadlineSeconds`), in seconds."""
