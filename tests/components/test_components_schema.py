"""Every Kubernetes object of every stack against the OpenAPI schema of that stack's Kubernetes version.

kubernetes-validate ships the schemas (offline); `strict` refuses any property the schema
does not define, so a misspelt or misplaced key fails here rather than on a cluster.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from conftest import SECRET_SIG, STACK_NAMES, Run

from spec.load import load_stack


def as_json(value: Any) -> Any:
    """Mocks hand numbers over as floats: give whole ones back as ints, as kubectl would send them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    return value


def unwrap_secrets(value: Any) -> Any:
    """A recorded value as the engine hands it to the provider: secret-wrapped values unwrapped (a Secret's data)."""
    if isinstance(value, dict):
        return (
            unwrap_secrets(value["value"]) if SECRET_SIG in value else {k: unwrap_secrets(v) for k, v in value.items()}
        )
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def objects(run: Run) -> list[dict[str, Any]]:
    return [as_json(unwrap_secrets(r.inputs)) for r in run.kubernetes()]


@pytest.mark.parametrize("name", STACK_NAMES)
def test_every_object_validates_strictly(runs: dict[str, Run], name: str) -> None:
    stack = load_stack(name)
    versions = {c.name: c.version for c in stack.clusters}
    objs = objects(runs[name])
    kinds = {o["kind"] for o in objs}
    assert {"Namespace", "NetworkPolicy", "Pod", "Service", "PersistentVolumeClaim", "ConfigMap", "Job"} <= kinds
    for version in set(versions.values()):
        for obj in objs:
            where = f"{obj['kind']}/{obj['metadata']['name']}"
            try:
                checked = kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                pytest.fail(f"{name}: {where} against {version}: {path}: {exc.message}")
            assert checked == version


def test_the_validator_catches_a_misplaced_key(runs: dict[str, Run]) -> None:
    """The check has teeth: a key the schema lacks, and a wrong type, both fail."""
    pod = next(o for o in objects(runs["kind-local"]) if o["kind"] == "Pod")
    bad = {**pod, "spec": {**pod["spec"], "nodeSelectors": {"node": "worker1"}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.31", strict=True)
    job = next(o for o in objects(runs["kind-local"]) if o["kind"] == "Job")
    bad = {**job, "spec": {**job["spec"], "backoffLimit": "none"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.31", strict=True)
