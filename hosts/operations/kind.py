"""kind clusters on a Docker host: present or absent, images loaded, kubeconfig fetched."""

from __future__ import annotations

import re
import shlex
from typing import Annotated, Any, Literal

from pydantic import Field

from hosts.facts import Fact, KindClusters, KindNodeImages, normalize_image
from hosts.operations.base import Change, Command, FactValues, Fetch, Operation, write_file_command

ClusterName = Annotated[str, Field(pattern=r"^[a-z0-9][-a-z0-9.]*$", max_length=50)]


class KindCluster(Operation):
    """A cluster made from its config file. An existing cluster is left as it is: kind cannot reconfigure one."""

    op: Literal["kind_cluster"] = "kind_cluster"
    name: ClusterName
    state: Literal["present", "absent"] = "present"
    config: str | None = None
    config_path: str | None = None
    image: str | None = None
    wait: str = "120s"

    @property
    def label(self) -> str:
        return f"kind cluster {self.name} {self.state}"

    @property
    def config_file(self) -> str:
        return self.config_path or f"/tmp/meshperf-kind-{self.name}.yaml"

    def facts(self) -> list[Fact[Any]]:
        return [KindClusters()]

    def changes(self, facts: FactValues) -> list[Change]:
        exists = self.name in facts[KindClusters()]
        if self.state == "absent":
            return [Command(f"kind delete cluster --name {self.name}")] if exists else []
        if exists:
            return []
        create = f"kind create cluster --name {self.name} --wait {shlex.quote(self.wait)}"
        if self.image:
            create += f" --image {shlex.quote(self.image)}"
        if self.config is None:
            return [Command(create)]
        return [
            Command(write_file_command(self.config_file, self.config, 0o644)),
            Command(f"{create} --config {shlex.quote(self.config_file)}"),
        ]


class KindImage(Operation):
    """A local Docker image present on every node of a kind cluster."""

    op: Literal["kind_image"] = "kind_image"
    cluster: ClusterName
    image: str

    @property
    def label(self) -> str:
        return f"image {self.image} in kind {self.cluster}"

    def facts(self) -> list[Fact[Any]]:
        return [KindNodeImages(self.cluster)]

    def changes(self, facts: FactValues) -> list[Change]:
        nodes = facts[KindNodeImages(self.cluster)]
        want = normalize_image(self.image)
        if nodes and all(want in images for images in nodes.values()):
            return []
        return [Command(f"kind load docker-image {shlex.quote(self.image)} --name {self.cluster}")]


class Kubeconfig(Operation):
    """A kind cluster's kubeconfig copied to the controller, its server address made reachable from there.

    The cluster may be made by an earlier operation of the same run, so it is read when its turn comes.
    """

    op: Literal["kubeconfig"] = "kubeconfig"
    cluster: ClusterName
    dest: str
    server: str | None = None
    internal: bool = False

    @property
    def label(self) -> str:
        return f"kubeconfig of {self.cluster} -> {self.dest}"

    def facts(self) -> list[Fact[Any]]:
        return []

    def rewrite(self, kubeconfig: str) -> str:
        """Point the cluster's `server:` at `self.server` (kind writes https://127.0.0.1:PORT)."""
        if self.server is None:
            return kubeconfig
        return re.sub(r"(?m)^(\s*server:\s*).*$", lambda m: m.group(1) + str(self.server), kubeconfig)

    def changes(self, facts: FactValues) -> list[Change]:
        internal = " --internal" if self.internal else ""
        return [Fetch(f"kind get kubeconfig --name {self.cluster}{internal}", self.dest, self.rewrite)]
