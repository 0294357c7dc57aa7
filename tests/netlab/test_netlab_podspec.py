"""How the lab's kubelet reads a pod spec (pure): Kubernetes' rules for command, env, identity, volumes."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlab.podspec import PodSpecError, container_env, container_run, expand, identity, pod_volumes
from netlab.rootfs import Userland

IMAGE = Userland(kind="image", hash="h", root="/r")


def test_dollar_paren_expansion_follows_kubernetes() -> None:
    env = {"A": "1", "B": "x"}
    assert expand("$(A)-$(B)", env) == "1-x"
    assert expand("$(MISSING) stays", env) == "$(MISSING) stays"
    assert expand("$$(A) escapes", env) == "$(A) escapes"
    assert expand("${A} is the shell's", env) == "${A} is the shell's"


def test_env_is_the_images_then_the_containers_in_order_and_nothing_of_the_hosts() -> None:
    container = {"name": "c", "env": [{"name": "X", "value": "a"}, {"name": "Y", "value": "$(X)b"}]}
    env = container_env("p", container, {}, {}, IMAGE)
    assert env == {**IMAGE.env, "HOSTNAME": "p", "X": "a", "Y": "ab"}
    field = {"name": "c", "env": [{"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}
    assert container_env("p", field, {"status.podIP": "10.0.0.2"}, {}, IMAGE)["IP"] == "10.0.0.2"


def test_env_from_a_secret_key_and_one_line_when_it_is_missing() -> None:
    ref = {"name": "c", "env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}}]}
    assert container_env("p", ref, {}, {}, IMAGE, {"s": {"token": "t0"}})["T"] == "t0"
    with pytest.raises(PodSpecError, match=r"^pod p container c: env T: no Secret s$"):
        container_env("p", ref, {}, {}, IMAGE)
    with pytest.raises(PodSpecError, match=r"^pod p container c: env T: no key token in Secret s$"):
        container_env("p", ref, {}, {}, IMAGE, {"s": {}})


def test_identity_container_over_pod_over_image_and_run_as_non_root_refuses_root() -> None:
    pod = {"securityContext": {"runAsUser": 2000, "runAsGroup": 3000, "fsGroup": 4000, "supplementalGroups": [5]}}
    assert identity("p", pod, {"name": "c"}, IMAGE) == (2000, 3000, [5, 4000])
    assert identity("p", pod, {"name": "c", "securityContext": {"runAsUser": 7}}, IMAGE)[0] == 7
    assert identity("p", {}, {"name": "c"}, IMAGE) == (IMAGE.uid, IMAGE.gid, [])
    with pytest.raises(PodSpecError, match="pod p container c: runAsNonRoot"):
        identity("p", {"securityContext": {"runAsNonRoot": True, "runAsUser": 0}}, {"name": "c"}, IMAGE)


def test_configmap_items_modes_and_read_only_mounts(tmp_path: Path) -> None:
    spec = {
        "volumes": [
            {"name": "s", "configMap": {"name": "cm", "defaultMode": 0o555, "items": [{"key": "a", "path": "x/a.sh"}]}},
            {"name": "t", "emptyDir": {}},
            {"name": "l", "persistentVolumeClaim": {"claimName": "logs", "readOnly": True}},
        ]
    }
    volumes = pod_volumes("p", spec, {"cm": {"data": {"a": "A", "b": "B"}}}, {"logs": tmp_path}, tmp_path / "v")
    assert [(f.path, f.content, f.mode) for f in volumes.configmap_files] == [("x/a.sh", "A", 0o555)]
    container = {
        "name": "c",
        "command": ["sh"],
        "args": ["$(HOSTNAME)"],
        "volumeMounts": [{"name": n, "mountPath": f"/{n}"} for n in ("s", "t", "l")],
    }
    run = container_run("p", spec, container, volumes, {"HOSTNAME": "p"}, [], IMAGE)
    assert run.argv == ["sh", "p"]
    assert {m.target: m.readonly for m in run.mounts} == {"/s": True, "/t": False, "/l": True}
    assert run.workdir == IMAGE.workdir and run.lower == "/r"


def test_what_the_lab_cannot_run_is_one_line_naming_the_pod_and_volume(tmp_path: Path) -> None:
    with pytest.raises(PodSpecError, match="pod p: volume h: hostPath volumes are not supported in the lab"):
        pod_volumes("p", {"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}, {}, {}, tmp_path)
    with pytest.raises(PodSpecError, match="pod p: volume l: claim logs is not bound on this node"):
        pod_volumes("p", {"volumes": [{"name": "l", "persistentVolumeClaim": {"claimName": "logs"}}]}, {}, {}, tmp_path)
