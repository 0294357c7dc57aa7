"""A kind cluster that is re-created, or already gone: what the engine and pulumi-kubernetes do with its objects.

The options are read as the engine gets them: the mock monitor's RegisterResource request
(`deletedWith`, `propertyDependencies`), and the provider's inputs (`deleteUnreachable`).
The rules they meet, from the sources:
- pulumi's pkg/resource/deploy/step_generator.go, `calculateDependentReplacements`: before a
  delete-before-replace, a dependent is replaced first when its provider is, when it is
  `deletedWith` the replaced resource, or when its provider's `DiffConfig`, given the inputs
  that come from the replaced resource as unknowns, asks for a replacement; step.go's
  `DeleteStep` skips the provider's Delete of a resource `deletedWith` one being deleted;
- pulumi-kubernetes' `DiffConfig` (provider/pkg/provider/provider.go): an unknown kubeconfig
  replaces, unless `clusterIdentifier` is set and the same, which drops every replacement;
  its `Read` and `Delete` forget a resource of an unreachable cluster only with `deleteUnreachable`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Registration, Run, run_program, stack_config, stand_in_kubeconfig

PROVIDER = "pulumi:providers:kubernetes"
KIND = "pulumi-python:dynamic/meshperf:KindCluster"


def provider_urn(reference: str) -> str:
    """A provider reference (`<urn>::<id>`) as its URN."""
    return reference.rsplit("::", 1)[0]


def kind_cluster_of(run: Run, provider: Registration) -> Registration:
    """The KindCluster resource a kind cluster's provider is built on (its component's other child)."""
    return next(r for r in run.of_type(KIND) if r.parent == provider.parent)


def diff_config_replaces_with(inputs: dict[str, Any], unknown: set[str]) -> bool:
    """pulumi-kubernetes' `DiffConfig` on a provider's own inputs with `unknown` of them computed."""
    if not unknown:
        return False  # nothing differs
    if "clusterIdentifier" not in unknown and inputs.get("clusterIdentifier"):
        return False  # diff.Same(clusterIdentifier) with a value: the replacement is dropped
    return bool(unknown & {"kubeconfig", "context", "cluster", "clusterIdentifier"})


def replaced_before(run: Run, root: str) -> set[str]:
    """The engine's `calculateDependentReplacements(root)` on the state this run leaves: what is deleted
    before `root` is (the registrations are in dependency order, as the engine walks them)."""
    replace = {root}
    for reg in run.resources:
        if not reg.custom:
            continue
        provider_replaced = bool(reg.provider) and provider_urn(reg.provider) in replace
        if provider_replaced or reg.deleted_with in replace:
            replace.add(reg.urn)
        elif reg.type == PROVIDER:
            unknown = {k for k, urns in reg.property_dependencies.items() if replace & set(urns)}
            if diff_config_replaces_with(reg.inputs, unknown):
                replace.add(reg.urn)
    return replace - {root}


@pytest.mark.parametrize("stack", ["kind-local", "kind-mesh", "kind-dual"])
def test_every_object_in_a_kind_cluster_is_deleted_with_it(runs: dict[str, Run], stack: str) -> None:
    run = runs[stack]
    providers = {r.urn: r for r in run.of_type(PROVIDER)}
    objects = run.kubernetes()
    assert len(objects) > 20
    for obj in objects:
        cluster = kind_cluster_of(run, providers[provider_urn(obj.provider)])
        assert obj.deleted_with == cluster.urn, f"{obj.type} {obj.name}: deleted_with {obj.deleted_with!r}"
    # Nothing else is: the clusters, their providers, the image, the routes, the waits and Results.
    assert all(not r.deleted_with for r in run.resources if not r.type.startswith("kubernetes:"))


def test_objects_in_an_existing_cluster_are_deleted_one_by_one(runs: dict[str, Run]) -> None:
    assert all(not r.deleted_with for r in runs["ci-example"].resources)


def adopted(config: dict[str, str]) -> dict[str, str]:
    kube = json.loads(config.get("meshperf:kubernetes", "{}"))
    kube.setdefault("clusters", {}).setdefault("meshperf", {})["adopt"] = True
    return {**config, "meshperf:kubernetes": json.dumps(kube)}


def test_objects_in_an_adopted_kind_cluster_are_deleted_one_by_one() -> None:
    """The stack never deletes an adopted cluster, so its objects must not wait for that."""
    run = run_program("kind-local", adopted(stack_config("kind-local")))
    assert run.kubernetes() and all(not r.deleted_with for r in run.resources)


@pytest.mark.parametrize("stack", ["kind-local", "kind-mesh"])
def test_a_re_created_cluster_takes_every_object_in_it_first(runs: dict[str, Run], stack: str) -> None:
    """Before the old cluster is deleted (delete-before-replace), its provider and every object in it
    are replaced: deleted while it is still there, or skipped as deleted with it."""
    run = runs[stack]
    for cluster in run.of_type(KIND):
        provider = next(p for p in run.of_type(PROVIDER) if p.parent == cluster.parent)
        assert cluster.urn in provider.property_dependencies["clusterIdentifier"]
        first = replaced_before(run, cluster.urn)
        inside = {r.urn for r in run.kubernetes() if provider_urn(r.provider) == provider.urn}
        assert provider.urn in first and inside and inside <= first
        # ... and nothing of another cluster.
        assert not {r.urn for r in run.kubernetes()} - inside & first


def test_the_rule_sees_a_plain_identifier() -> None:
    """Teeth: a provider whose identifier is a plain string stays (pulumi-kubernetes drops the
    replacement), and so would every object not deleted with the cluster."""
    inputs = {"kubeconfig": "k", "clusterIdentifier": "kind-a-1"}
    assert not diff_config_replaces_with(inputs, {"kubeconfig"})
    assert diff_config_replaces_with(inputs, {"kubeconfig", "clusterIdentifier"})


@pytest.mark.parametrize("stack", ["kind-local", "kind-mesh", "kind-dual"])
def test_kind_providers_forget_the_objects_of_a_cluster_that_is_gone(runs: dict[str, Run], stack: str) -> None:
    providers = runs[stack].of_type(PROVIDER)
    assert providers and all(p.inputs.get("deleteUnreachable") == "true" for p in providers)


def test_an_existing_cluster_forgets_its_objects_only_when_the_stack_says_so(
    runs: dict[str, Run], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """Off by default (a cluster unreachable for a while keeps its objects in the state), and left to
    PULUMI_K8S_DELETE_UNREACHABLE; on for a cluster whose settings say `delete_unreachable: true`."""
    assert all("deleteUnreachable" not in p.inputs for p in runs["ci-example"].of_type(PROVIDER))

    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(stand_in_kubeconfig(["kind-ci-a", "kind-ci-b"]))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    config = stack_config("ci-example")
    kube = json.loads(config["meshperf:kubernetes"])
    kube.setdefault("clusters", {}).setdefault("ci-a", {})["delete_unreachable"] = True
    run = run_program("ci-example", {**config, "meshperf:kubernetes": json.dumps(kube)})
    flags = {p.name: p.inputs.get("deleteUnreachable") for p in run.of_type(PROVIDER)}
    assert flags == {"cluster-ci-a-k8s": "true", "cluster-ci-b-k8s": None}
