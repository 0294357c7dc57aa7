"""What a second `pulumi up` does after a stack change, judged by hand ports of the real systems' rules
(the live tier, tests/live, runs the real CLI and provider on the local cluster).

Under mocks the engine never diffs, so the program runs twice (the old stack, then the
changed one) and the two runs' registrations are put through the rules that decide:
- the kind cluster: `KindClusterProvider.diff` itself, on the old and new inputs;
- its Kubernetes provider: pulumi-kubernetes' `DiffConfig` rule for `clusterIdentifier`
  (provider/pkg/provider/provider.go: replace when the identifier is updated; when it is
  set and unchanged, never replace, whatever else changed);
- every object on that provider: the engine replaces a resource whose provider's
  `DiffConfig` asks for a replacement (pkg/resource/deploy/step_generator.go, `providerChanged`);
- the image load and the mesh routes: their providers' `diff`, on the old and new inputs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import SECRET_SIG, Registration, Run, run_program, stack_config

from components.image import KindImageProvider
from components.kind import REPLACE_KEYS, KindClusterProvider, cluster_identity
from components.mesh import KindMeshRoutesProvider

PROVIDER = "pulumi:providers:kubernetes"


def plain(value: Any) -> Any:
    """A recorded value with secrets unwrapped (the engine hands providers the plain values)."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return plain(value["value"])
        return {k: plain(v) for k, v in value.items() if k != "__provider"}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def diff_config_replaces(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    """pulumi-kubernetes' DiffConfig decision for a provider that sets clusterIdentifier (ours always do)."""
    assert news.get("clusterIdentifier"), "every meshperf Kubernetes provider sets clusterIdentifier"
    if olds == news:
        return False  # no diff at all
    old_id, new_id = olds.get("clusterIdentifier"), news.get("clusterIdentifier")
    # diff.Updated(clusterIdentifier): set before and after, and different -> replace.
    # diff.Same(clusterIdentifier) with a value -> every replacement is dropped (kubeconfig changes are updates).
    return old_id is not None and old_id != new_id


def by_name(run: Run, type_suffix: str) -> dict[str, Registration]:
    return {r.name: r for r in run.of_type(type_suffix)}


def objects_on(run: Run, provider_name: str) -> list[Registration]:
    return [r for r in run.kubernetes() if r.provider.split("::")[-2] == provider_name]


def relabelled(config: dict[str, str]) -> dict[str, str]:
    """The stack with one more label on the first cluster's last node (placement unchanged)."""
    clusters = json.loads(config["meshperf:clusters"])
    clusters[0]["nodes"][-1].setdefault("labels", {})["rack"] = "r2"
    return {**config, "meshperf:clusters": json.dumps(clusters)}


@pytest.fixture(scope="module")
def mesh_runs() -> tuple[Run, Run, Run]:
    """kind-mesh as shipped, the same again, and with one node label of cluster-a changed."""
    config = stack_config("kind-mesh")
    return (
        run_program("kind-mesh", config),
        run_program("kind-mesh", config),
        run_program("kind-mesh", relabelled(config)),
    )


def test_a_changed_node_label_replaces_the_cluster_its_provider_and_everything_in_it(
    mesh_runs: tuple[Run, Run, Run],
) -> None:
    old, _same, new = mesh_runs
    kind_old, kind_new = by_name(old, "meshperf:KindCluster"), by_name(new, "meshperf:KindCluster")
    provider = KindClusterProvider()
    a = provider.diff(
        "cluster-a", plain(kind_old["cluster-cluster-a-kind"].inputs), plain(kind_new["cluster-cluster-a-kind"].inputs)
    )
    assert a.changes and a.replaces == ["config"] and a.delete_before_replace
    b = provider.diff(
        "cluster-b", plain(kind_old["cluster-cluster-b-kind"].inputs), plain(kind_new["cluster-cluster-b-kind"].inputs)
    )
    assert not b.changes

    prov_old, prov_new = by_name(old, PROVIDER), by_name(new, PROVIDER)
    assert diff_config_replaces(
        plain(prov_old["cluster-cluster-a-k8s"].inputs), plain(prov_new["cluster-cluster-a-k8s"].inputs)
    )
    assert not diff_config_replaces(
        plain(prov_old["cluster-cluster-b-k8s"].inputs), plain(prov_new["cluster-cluster-b-k8s"].inputs)
    )
    # The engine replaces every object whose provider is replaced: all of cluster-a's, none of cluster-b's.
    in_a = objects_on(new, "cluster-cluster-a-k8s")
    kinds_in_a = {r.type for r in in_a}
    assert {"kubernetes:core/v1:Namespace", "kubernetes:batch/v1:Job", "kubernetes:core/v1:Pod"} <= kinds_in_a
    assert len(in_a) + len(objects_on(new, "cluster-cluster-b-k8s")) == len(new.kubernetes())

    # The image is loaded again (an update of KindImage runs build and load), and the routes are made again.
    image = KindImageProvider().diff(
        "img",
        plain(by_name(old, "KindImage")["image-build"].inputs),
        plain(by_name(new, "KindImage")["image-build"].inputs),
    )
    # A change without a replacement is an update, and KindImageProvider.update builds and loads again.
    assert image.changes and image.replaces == []
    routes = KindMeshRoutesProvider().diff(
        "r",
        plain(by_name(old, "KindMeshRoutes")["mesh-routes"].inputs),
        plain(by_name(new, "KindMeshRoutes")["mesh-routes"].inputs),
    )
    assert routes.replaces == ["cluster_ids"]


def test_an_unchanged_stack_replaces_nothing(mesh_runs: tuple[Run, Run, Run]) -> None:
    old, same, _new = mesh_runs
    for name, reg in by_name(old, "meshperf:KindCluster").items():
        assert (
            not KindClusterProvider()
            .diff(name, plain(reg.inputs), plain(by_name(same, "meshperf:KindCluster")[name].inputs))
            .changes
        )
    for name, reg in by_name(old, PROVIDER).items():
        assert not diff_config_replaces(plain(reg.inputs), plain(by_name(same, PROVIDER)[name].inputs))
    image_old, image_same = by_name(old, "KindImage")["image-build"], by_name(same, "KindImage")["image-build"]
    assert not KindImageProvider().diff("img", plain(image_old.inputs), plain(image_same.inputs)).changes


def test_a_new_kubeconfig_alone_does_not_replace_the_provider(mesh_runs: tuple[Run, Run, Run]) -> None:
    """A re-read kubeconfig of the same cluster (new certificates) is an update: the identifier is unchanged."""
    old, _same, _new = mesh_runs
    inputs = plain(by_name(old, PROVIDER)["cluster-cluster-b-k8s"].inputs)
    assert not diff_config_replaces(inputs, {**inputs, "kubeconfig": inputs["kubeconfig"] + "# new certificates\n"})


def test_the_identity_changes_exactly_when_the_cluster_is_re_created() -> None:
    base = {"name": "c", "config": "kind: Cluster\n", "host": {"kind": "local"}, "kind": "kind", "docker": "docker"}
    provider = KindClusterProvider()
    for key, value in [
        ("config", "kind: Cluster\n# other\n"),
        ("host", {"kind": "ssh", "address": "h"}),
        ("kind", "/opt/kind"),
    ]:
        changed = {**base, key: value}
        assert provider.diff("c", base, changed).replaces == [key]
        assert cluster_identity(changed) != cluster_identity(base)
    for key, value in [("adopt", True), ("docker", "/opt/docker")]:
        changed = {**base, key: value}
        result = provider.diff("c", base, changed)
        assert result.changes and result.replaces == []
        assert cluster_identity(changed) == cluster_identity(base)
    assert set(REPLACE_KEYS) == {"name", "config", "host", "kind"}


def _holds_kubeconfig(value: Any) -> bool:
    if isinstance(value, str):
        return "kind: Config" in value
    if isinstance(value, dict):
        return any(_holds_kubeconfig(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_kubeconfig(v) for v in value)
    return False


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and SECRET_SIG in value


@pytest.mark.parametrize("stack", ["kind-local", "kind-mesh", "ci-example"])
def test_every_output_holding_a_kubeconfig_is_secret(runs: dict[str, Run], stack: str) -> None:
    run = runs[stack]
    holding = []
    for reg in run.resources:
        for key, value in reg.outputs.items():
            if _holds_kubeconfig(plain(value)):
                holding.append((reg.name, key))
                assert _is_secret(value) or key in reg.secret_outputs, (
                    f"{reg.type} {reg.name}: output {key} is not secret"
                )
    # The kind or existing cluster's kubeconfig, each provider's, and the Results viewers'.
    assert {key for _, key in holding} >= {"kubeconfig", "viewers"}
    for key, value in run.outputs.items():
        if _holds_kubeconfig(value):
            assert run.secret[key], f"stack output {key} holds a kubeconfig and is not secret"
    assert run.secret["kubeconfig"]
