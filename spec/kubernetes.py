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
    port: Annotated[Int, Field(ge=1, le=65535)] = 22
    user: str = "root"
    key: str | None = None
    known_hosts: str | None = None
    command_timeout_s: Annotated[Float, Field(gt=0)] = 900.0


class ClusterSettings(Strict):
    """How one cluster of the spec is reached or made."""

    host: Literal["local"] | SshHost = "local"

    @field_validator("host", mode="before")
    @classmethod
    def _host_shape(cls, v: object) -> object:
        if v == "local" or isinstance(v, dict | SshHost):
            return v
        raise ValueError(f"host is local or an SSH host {{address, port, user, key, known_hosts}}; not {shown(v)}")

    node_image: str | None = None
    api_server_address: ipaddress.IPv4Address = ipaddress.IPv4Address("127.0.0.1")
    api_server_port: Annotated[Int, Field(ge=1, le=65535)] | None = None
    kind: str = "kind"
    docker: str = "docker"
    # Use a kind cluster of this name that is already on the host (checked against the stack, never deleted).
    adopt: Bool = False
    # Existing clusters only: the kubeconfig file(s), `:`-separated (default: every file of $KUBECONFIG,
    # then ~/.kube/config), merged as kubectl merges them.
    kubeconfig: str | None = None
    # The addresses of this cluster's nodes. kindnet masquerades pod traffic that leaves the
    # cluster's pod subnet to the node's IP, so the other cluster's policies must admit these.
    # Needed where this cluster's clients reach the other cluster and meshperf does not route
    # the two itself (KindMeshRoutes reads the node IPs of two kind clusters on one host).
    node_cidrs: tuple[ipaddress.IPv4Network, ...] = ()


class ImageSettings(Strict):
    name: str = DEFAULT_IMAGE
    # Build from images/ and load into each kind cluster; default: when every cluster is kind.
    build: Bool | None = None
    pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None


class LogSettings(Strict):
    size: Annotated[str, Field(pattern=r"^\d+(Ki|Mi|Gi)$")] = "1Gi"
    storage_class: str | None = None
    mount_path: Annotated[str, Field(pattern=r"^/[-a-z0-9/_]*$")] = "/logs"


class ResultSettings(Strict):
    enabled: Bool = True
    read_timeout_s: Annotated[Int, Field(ge=5, le=3600)] = 120


class KubernetesSettings(Strict):
    namespace: Annotated[str, Field(pattern=NAME_RE, max_length=40)] = "meshperf"
    clusters: dict[str, ClusterSettings] = Field(default_factory=dict)
    image: ImageSettings = ImageSettings()
    logs: LogSettings = LogSettings()
    results: ResultSettings = ResultSettings()
    job_slack_s: Annotated[Int, Field(ge=0, le=3600)] = 300
