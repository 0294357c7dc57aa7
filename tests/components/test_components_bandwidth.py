"""Per-workload bandwidth limits under mocks: the CNI bandwidth plugin's annotations on that workload's pods only."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest
from conftest import Run, run_program, stack_config
from test_components_schema import objects

EGRESS, INGRESS = "kubernetes.io/egress-bandwidth", "kubernetes.io/ingress-bandwidth"
WORKLOAD = "meshperf.io/workload"
# kind-mesh with w1 (a client, and E2SAR's sender) limited going out and w4 (a server, and E2SAR's receiver) coming in.
LIMITS = {"w1": {EGRESS: "2000000000"}, "w4": {INGRESS: "500000000"}}


@pytest.fixture(scope="module")
def limited() -> Run:
    config = stack_config("kind-mesh")
    workloads = json.loads(config["meshperf:workloads"])
    workloads["w1"]["egress_rate"] = "2gbit"
    workloads["w4"]["ingress_rate"] = "500mbit"
    config["meshperf:workloads"] = json.dumps(workloads)
    return run_program("kind-mesh", config)


def _pod_meta(res: Any) -> dict[str, Any]:
    return res.inputs["spec"]["template"]["metadata"] if res.type.endswith(":Job") else res.inputs["metadata"]


def test_the_annotations_are_on_that_workloads_pods_and_nowhere_else(limited: Run) -> None:
    seen: dict[str, set[str]] = {}
    pods = limited.of_type("core/v1:Pod") + limited.of_type("batch/v1:Job")
    for res in pods:
        meta = _pod_meta(res)
        workload = meta["labels"].get(WORKLOAD)
        notes = meta.get("annotations", {})
        bandwidth = {k: v for k, v in notes.items() if k in (EGRESS, INGRESS)}
        assert bandwidth == LIMITS.get(workload or "", {}), f"{res.type} {res.name} ({workload})"
        if workload:
            seen.setdefault(workload, set()).add(res.type.rsplit(":", 1)[1] + " " + res.name)
    # w1: its client Job and E2SAR's sender Jobs; w4: its server Pod and E2SAR's receiver Jobs.
    assert "Job w1-client" in seen["w1"] and any(n.endswith("-sender") for n in seen["w1"]), seen["w1"]
    assert any(n.startswith("Pod ") and n.endswith("w4-server") for n in seen["w4"]), seen["w4"]
    assert any(n.endswith("-receiver") for n in seen["w4"]), seen["w4"]
    assert {"w2", "w3"} <= set(seen)  # unlimited workloads exist and carry no annotation (checked above)
    # Nothing but pods carries them (Services, ConfigMaps, the Jobs' own metadata...).
    for res in limited.kubernetes():
        if res.type == "kubernetes:core/v1:Pod":
            continue
        notes = (res.inputs.get("metadata") or {}).get("annotations") or {}
        assert not {EGRESS, INGRESS} & set(notes), f"{res.type} {res.name}"


def test_the_default_stack_has_no_bandwidth_annotation(runs: dict[str, Run]) -> None:
    text = json.dumps([r.inputs for r in runs["kind-mesh"].kubernetes()])
    assert EGRESS not in text and INGRESS not in text


def test_limited_objects_still_validate_strictly(limited: Run) -> None:
    for obj in objects(limited):
        try:
            kubernetes_validate.validate(obj, "1.31", strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {'.'.join(map(str, exc.path))}: {exc.message}")
