"""The tool image in the program: its tag follows its build inputs, and it is built and loaded on each kind host.

Under the SDK's mocks, the real `__main__.py`: every Pod and Job names the image by
`spec.image.tool_image()`, so an edit of images/Dockerfile changes every pod template and
every Job's content hash (pulumi-kubernetes replaces a Job when its template changes); and
two kind clusters on two hosts get one build and load each, on their own host.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import DYNAMIC, Run, run_program, stack_config

import spec.image
from manifests.base import CONTENT_HASH
from spec.image import tool_image

POD_OWNERS = ("kubernetes:core/v1:Pod", "kubernetes:batch/v1:Job")


def containers(reg: Any) -> list[dict[str, Any]]:
    spec_ = reg.inputs["spec"]
    pod = spec_["template"]["spec"] if "template" in spec_ else spec_
    return [*pod.get("initContainers", []), *pod["containers"]]


def tool_pods(run: Run) -> list[Any]:
    """The Pods and Jobs that run the tool image (E2SAR's run its own)."""
    return [
        r
        for r in run.resources
        if r.type in POD_OWNERS and any(c["image"].startswith("meshperf-tools") for c in containers(r))
    ]


def job_hashes(run: Run) -> dict[str, str]:
    return {
        r.name: r.inputs["spec"]["template"]["metadata"]["annotations"][CONTENT_HASH]
        for r in run.of_type("batch/v1:Job")
        if any(c["image"].startswith("meshperf-tools") for c in containers(r))
    }


def test_the_image_is_named_by_the_hash_of_its_build_inputs(runs: dict[str, Run]) -> None:
    tag = tool_image()
    assert re.fullmatch(r"meshperf-tools:[0-9a-f]{12}", tag)
    run = runs["kind-local"]
    assert len(tool_pods(run)) > 5
    for reg in tool_pods(run):
        assert {c["image"] for c in containers(reg) if c["image"].startswith("meshperf-tools")} == {tag}, reg.name
    [built] = run.of_type(DYNAMIC + "KindImage")
    assert built.inputs["image"] == tag


def test_an_edited_dockerfile_changes_every_pod_template(
    runs: dict[str, Run], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = runs["kind-local"]
    images = tmp_path / "images"
    shutil.copytree(spec.image.IMAGES, images)
    (images / "Dockerfile").write_text((images / "Dockerfile").read_text() + "LABEL edited=yes\n")
    monkeypatch.setattr(spec.image, "IMAGES", images)
    after = run_program("kind-local", stack_config("kind-local"))
    old_pods = {r.name: containers(r) for r in tool_pods(before)}
    new_pods = {r.name: containers(r) for r in tool_pods(after)}
    assert old_pods.keys() == new_pods.keys()
    kept = [n for n in old_pods if old_pods[n] == new_pods[n]]
    assert not kept, f"pods that kept the old image: {kept} {[c['image'] for c in new_pods[kept[0]]] if kept else ''}"
    old_jobs, new_jobs = job_hashes(before), job_hashes(after)
    assert old_jobs and old_jobs.keys() == new_jobs.keys()
    assert all(old_jobs[name] != new_jobs[name] for name in old_jobs), "a Job would not run again"
    [built] = after.of_type(DYNAMIC + "KindImage")
    assert built.inputs["context"]["Dockerfile"].endswith("LABEL edited=yes\n")
    assert built.inputs["image"] == tool_image(images)


def on_two_hosts(config: dict[str, str]) -> dict[str, str]:
    """kind-mesh with cluster-b's kind on an SSH host: no shared link, the node addresses declared."""
    kube = json.loads(config.get("meshperf:kubernetes", "{}"))
    clusters = kube.setdefault("clusters", {})
    clusters.setdefault("cluster-a", {})["node_cidrs"] = ["172.18.0.0/16"]
    clusters.setdefault("cluster-b", {}).update(host={"address": "192.0.2.8"}, node_cidrs=["172.19.0.0/16"])
    out = {k: v for k, v in config.items() if k != "meshperf:link"}
    return {**out, "meshperf:kubernetes": json.dumps(kube)}


def test_each_kind_host_builds_and_loads_the_image_for_its_own_clusters() -> None:
    run = run_program("kind-mesh", on_two_hosts(stack_config("kind-mesh")))
    built = {r.name: r.inputs for r in run.of_type(DYNAMIC + "KindImage")}
    assert set(built) == {"image-build", "image-build-cluster-b"}
    assert built["image-build"]["clusters"] == ["cluster-a"] and built["image-build"]["host"]["kind"] == "local"
    b = built["image-build-cluster-b"]
    assert b["clusters"] == ["cluster-b"] and b["host"]["address"] == "192.0.2.8"
    # Pods wait for both loads: their image name resolves only once each is done.
    assert not run.of_type(DYNAMIC + "KindMeshRoutes")


def test_two_clusters_on_one_host_share_one_build(runs: dict[str, Run]) -> None:
    [built] = runs["kind-mesh"].of_type(DYNAMIC + "KindImage")
    assert built.name == "image-build" and built.inputs["clusters"] == ["cluster-a", "cluster-b"]
