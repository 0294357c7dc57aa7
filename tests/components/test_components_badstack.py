"""A bad stack stops before any resource is registered, with one line naming the key."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from conftest import Run, run_program, stack_config

from components.config import settings_from_config
from spec.load import StackError


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "meshperf:workloads",
            {"w1": {"cluster": "nope", "node_selector": {"node": "worker1"}}},
            "workloads.w1.cluster",
        ),
        ("meshperf:suites", {"netperf": {"paths": [1, 2, 3, 4, 5, 6]}}, "path 6 needs workload 'w4'"),
        ("meshperf:colour", "blue", "meshperf:colour: unknown key"),
        ("meshperf:kubernetes", {"image": {"nmae": "x"}}, "meshperf:kubernetes.image.nmae: unknown key"),
        ("meshperf:kubernetes", {"clusters": {"other": {}}}, "meshperf:kubernetes.clusters.other: no cluster"),
    ],
)
def test_a_bad_stack_registers_nothing(key: str, value: Any, expected: str) -> None:
    config = stack_config("kind-local")
    config[key] = json.dumps(value)
    run = Run()
    with pytest.raises(pulumi.RunError) as caught:
        run_program("kind-local", config, run)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert run.resources == []


def test_settings_refuse_what_cannot_work() -> None:
    base = {
        "clusters": [
            {"name": "a", "kubeconfig_context": "ctx-a", "nodes": [{"name": "w", "labels": {"node": "worker1"}}]}
        ],
        "workloads": {
            "w1": {"cluster": "a", "node_selector": {"node": "worker1"}},
            "w2": {"cluster": "a", "node_selector": {"node": "worker1"}},
        },
        "suites": {"netperf": {"paths": [1, 2]}},
    }
    settings = settings_from_config(base)
    assert not settings.is_kind("a") and not settings.builds_image()
    assert settings.pull_policy() == "IfNotPresent"
    with pytest.raises(StackError, match=r"image.build: an image can only be loaded into kind clusters"):
        settings_from_config({**base, "kubernetes": {"image": {"build": True}}})
    with pytest.raises(StackError, match=r"clusters.a: host, node_image"):
        settings_from_config({**base, "kubernetes": {"clusters": {"a": {"node_image": "kindest/node:v1.31.0"}}}})
    kind = {**base, "clusters": [{**base["clusters"][0], "kubeconfig_context": None, "kubernetes_version": "1.20"}]}
    with pytest.raises(StackError, match=r"no kind node image known for Kubernetes 1.20"):
        settings_from_config(kind)
