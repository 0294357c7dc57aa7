"""The tool image: built from images/Dockerfile on each kind host and loaded into that host's kind clusters.

Its name is `spec.image.tool_image()`: `meshperf-tools:<hash of the build inputs>`, so that an
edit of images/ changes every pod that runs it. Two kind clusters on two hosts: one build and
load per host (`LoadTarget`), each into the clusters on it.

The build context (the Dockerfile and the package list it reads, images/) is fed to
`docker build -` on stdin as a tar: the same command works on this machine and on a host
reached over SSH.

The image goes into the clusters as an archive: `docker save --platform <the image's own>`
into a temporary file, then `kind load image-archive`. `kind load docker-image` runs a plain
`docker save`, which under Docker's containerd image store exports the image's whole
multi-platform index, and the node's `ctr images import --all-platforms` then fails with
"content digest ... not found" (kubernetes-sigs/kind#3795; the single-platform archive is
the workaround its maintainers point to). A Docker without `save --platform` (before 28)
has no containerd store by default and saves the one platform anyway.

The load follows each cluster's identity: a re-created cluster is empty, so it is loaded again.
"""

from __future__ import annotations

import asyncio
import base64
import io
import shlex
import tarfile
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

from components.hostrun import Run, check, check_long, host_key, host_label, open_runner, progress
from spec.image import build_inputs


def build_context() -> dict[str, str]:
    """The image's build context: file name -> text (the same files its tag is the hash of)."""
    return build_inputs()


def context_tar(files: dict[str, str]) -> bytes:
    """A reproducible tar of the context (fixed times and owners): the same files give the same bytes."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            data = files[name].encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def build_command(docker: str, image: str, context: dict[str, str]) -> str:
    """`docker build -` reads a tar on stdin as the build context."""
    encoded = base64.b64encode(context_tar(context)).decode()
    return f"printf '%s' {encoded} | base64 -d | {shlex.quote(docker)} build -t {shlex.quote(image)} -"


def save_command(docker: str, image: str, archive: str) -> str:
    """Save the image for its own platform only, where this Docker can say so (`save --platform`, Docker 28+)."""
    d, i, a = shlex.quote(docker), shlex.quote(image), shlex.quote(archive)
    return (
        f"platform=$({d} image inspect -f '{{{{.Os}}}}/{{{{.Architecture}}}}' {i}) || exit 1; "
        f"if {d} save --help 2>&1 | grep -q -- --platform; "
        f'then {d} save --platform "$platform" -o {a} {i}; else {d} save -o {a} {i}; fi'
    )


def load_command(kind: str, archive: str, cluster: str) -> str:
    return f"{shlex.quote(kind)} load image-archive {shlex.quote(archive)} --name {shlex.quote(cluster)}"


async def load_into(run: Run, props: dict[str, Any], where: str) -> None:
    """Save the image to a temporary archive on the host, load it into every cluster, remove the archive."""
    image, docker, kind = str(props["image"]), str(props.get("docker") or "docker"), str(props.get("kind") or "kind")
    archive = (await check(run, "mktemp -t meshperf-image.XXXXXX", f"mktemp on {where}")).strip()
    try:
        await check_long(run, save_command(docker, image, archive), f"docker save {image} on {where}")
        for cluster in props["clusters"]:
            await check_long(
                run, load_command(kind, archive, str(cluster)), f"kind load image-archive {image} into {cluster}"
            )
    finally:
        await run(f"rm -f {shlex.quote(archive)}")


class KindImageProvider(ResourceProvider):
    """Inputs: image, context (file name -> text), clusters (names), cluster_ids (identities), host, kind, docker.

    Outputs add image_id.
    """

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = asyncio.run(self._build_and_load(props))
        return CreateResult(id_=str(props["image"]), outs=outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> Any:
        from pulumi.dynamic import UpdateResult

        return UpdateResult(outs=asyncio.run(self._build_and_load(news)))

    async def _build_and_load(self, props: dict[str, Any]) -> dict[str, Any]:
        image, docker = str(props["image"]), str(props.get("docker") or "docker")
        where = host_label(props["host"])
        async with open_runner(props["host"]) as run:
            await check_long(
                run, build_command(docker, image, dict(props["context"])), f"docker build {image} on {where}"
            )
            image_id = await check(
                run,
                f"{shlex.quote(docker)} image inspect -f '{{{{.Id}}}}' {shlex.quote(image)}",
                "docker image inspect",
            )
            await load_into(run, props, where)
        progress(f"image {image}: in kind clusters {', '.join(map(str, props['clusters']))}")
        return {**props, "image_id": image_id.strip()}

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("image", "context", "clusters", "cluster_ids", "host", "kind", "docker")
        changed = [k for k in keys if _compared(olds, k) != _compared(news, k)]
        return DiffResult(changes=bool(changed), replaces=["image"] if "image" in changed else [])

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The image goes with the clusters; the host's copy is left for the next build's cache."""


def _compared(props: dict[str, Any], key: str) -> Any:
    """A prop as the diff sees it: the host as which machine it is (a new command timeout rebuilds nothing)."""
    return host_key(props.get(key)) if key == "host" else props.get(key)


@dataclass
class LoadTarget:
    """One host's kind clusters: where the image is built and which clusters it is loaded into."""

    host: dict[str, Any]
    clusters: list[str] = field(default_factory=list)
    cluster_ids: list[pulumi.Input[str]] = field(default_factory=list)
    kind: str = "kind"
    docker: str = "docker"


class KindImage(Resource, module="meshperf", name="KindImage"):
    image_id: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(KindImageProvider(), name, {**props, "image_id": None}, opts)


class ToolImage(pulumi.ComponentResource):
    """The image the workloads run: built and kind-loaded on each kind host, or simply the one the stack names."""

    name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        image: str,
        *,
        targets: list[LoadTarget] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`targets`: one per kind host; the first keeps the resource name `<name>-build`."""
        super().__init__("meshperf:kubernetes:ToolImage", resource_name, None, opts)
        built = [
            KindImage(
                f"{resource_name}-build" if i == 0 else f"{resource_name}-build-{target.clusters[0]}",
                {
                    "image": image,
                    "context": build_context(),
                    "clusters": target.clusters,
                    "cluster_ids": target.cluster_ids,
                    "host": target.host,
                    "kind": target.kind,
                    "docker": target.docker,
                },
                pulumi.ResourceOptions(parent=self, custom_timeouts=pulumi.CustomTimeouts(create="30m", update="30m")),
            )
            for i, target in enumerate(targets or [])
        ]
        # The name only resolves once the image is in every cluster: pods wait for it.
        self.name = (
            pulumi.Output.all(*[b.image_id for b in built]).apply(lambda _ids: image)
            if built
            else pulumi.Output.from_input(image)
        )
        self.register_outputs({"name": self.name})
