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

from spec.base import NAME_RE, Bool, Float, Int, Strict, shown

DEFAULT_IMAGE = "meshperf-tools:dev"

# kind node images by Kubernetes minor version (tags kind publishes); a stack may name its own.
KIND_NODE_IMAGES: dict[str, str] = {
    "1.29": "kindest/node:v1.29.8",
    "1.30": "kindest/node:v1.30.4",
    "1.31": "kindest/node:v1.31.0",
    "1.32": "kindest/node:v1.32.0",
    "1.33": "kindest/node:v1.33.1",
}


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
    command_timeout_s: Annotated[Float, Field(gt=0)] = 900.0
    """The most one command may take, in seconds."""


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
    api_server_address: ipaddress.IPv4Address = ipaddress.IPv4Address("127.0.0.1")
    """The address kind's API server listens on."""
    api_server_port: Annotated[Int, Field(ge=1, le=65535)] | None = None
    """The port kind's API server listens on. Unset: kind picks one."""
    kind: str = "kind"
    """The kind executable."""
    docker: str = "docker"
    """The docker executable."""
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


class ImageSettings(Strict):
    name: str = DEFAULT_IMAGE
    """The tool image the pods run."""
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
    image: ImageSettings = ImageSettings()
    """The tool image."""
    logs: LogSettings = LogSettings()
    """The log volumes."""
    results: ResultSettings = ResultSettings()
    """Reading the results back."""
    job_slack_s: Annotated[Int, Field(ge=0, le=3600)] = 300
    """Time a Job gets beyond its planned run time before Kubernetes stops it (`activeDeadlineSeconds`), in seconds."""
