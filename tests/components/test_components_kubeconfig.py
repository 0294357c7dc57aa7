"""Kubeconfigs of existing clusters: kubectl's merge of KUBECONFIG, cut to one context, files inlined.

The rules checked are client-go's (tools/clientcmd/loader.go): files in KUBECONFIG order,
missing ones skipped, the first file to name a cluster, user or context wins, relative
certificate paths are relative to the file that names them. The files are real files the
test writes; no API server is reached.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SECRET_SIG, run_program, stack_config

from components.kubeconfig import KubeconfigError, kubeconfig_files, load_minimal, server_digest


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[Path, Path]:
    """Two kubeconfig files in two folders; the first names its CA and client key by relative paths."""
    first_dir, second_dir = tmp_path / "team", tmp_path / "ci"
    (first_dir / "pki").mkdir(parents=True)
    (first_dir / "pki" / "ca.crt").write_bytes(b"CA of cluster ci-a\n")
    (first_dir / "pki" / "client.crt").write_bytes(b"client certificate\n")
    (first_dir / "pki" / "client.key").write_bytes(b"client key\n")
    first = write(
        first_dir / "config",
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "kind-ci-a",
            "clusters": [
                {"name": "ci-a", "cluster": {"server": "https://10.0.0.1:6443", "certificate-authority": "pki/ca.crt"}},
                {"name": "shared", "cluster": {"server": "https://first.example:6443"}},
            ],
            "users": [
                {"name": "admin-a", "user": {"client-certificate": "pki/client.crt", "client-key": "pki/client.key"}}
            ],
            "contexts": [{"name": "kind-ci-a", "context": {"cluster": "ci-a", "user": "admin-a"}}],
        },
    )
    second = write(
        second_dir / "config",
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "kind-ci-b",
            "clusters": [{"name": "shared", "cluster": {"server": "https://second.example:6443"}}],
            "users": [{"name": "admin-b", "user": {"token": "token-b"}}, {"name": "admin-a", "user": {"token": "no"}}],
            "contexts": [
                {"name": "kind-ci-b", "context": {"cluster": "shared", "user": "admin-b"}},
                {"name": "kind-ci-a", "context": {"cluster": "shared", "user": "admin-b"}},
            ],
        },
    )
    return first, second


def test_every_file_is_read_and_the_first_to_name_a_thing_wins(two_files: tuple[Path, Path], tmp_path: Path) -> None:
    first, second = two_files
    paths = [first, tmp_path / "missing" / "config", second]  # a missing file is skipped, as kubectl does
    a = yaml.safe_load(load_minimal(paths, "kind-ci-a"))
    assert a["current-context"] == "kind-ci-a"
    assert [c["name"] for c in a["contexts"]] == ["kind-ci-a"]
    assert a["contexts"][0]["context"] == {"cluster": "ci-a", "user": "admin-a"}  # the first file's, not the second's
    assert [c["name"] for c in a["clusters"]] == ["ci-a"] and [u["name"] for u in a["users"]] == ["admin-a"]
    # Relative paths are the first file's folder's, and the contents are inlined: state needs no local file.
    cluster, user = a["clusters"][0]["cluster"], a["users"][0]["user"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"CA of cluster ci-a\n"
    assert base64.b64decode(user["client-certificate-data"]) == b"client certificate\n"
    assert base64.b64decode(user["client-key-data"]) == b"client key\n"
    assert "certificate-authority" not in cluster and "client-key" not in user
    # A context of the second file, naming a cluster both files define: the first file's cluster wins.
    b = yaml.safe_load(load_minimal(paths, "kind-ci-b"))
    assert b["clusters"] == [{"name": "shared", "cluster": {"server": "https://first.example:6443"}}]
    assert b["users"] == [{"name": "admin-b", "user": {"token": "token-b"}}]
    assert server_digest(load_minimal(paths, "kind-ci-b")) != server_digest(load_minimal(paths, "kind-ci-a"))


def test_what_cannot_be_read_is_one_line(two_files: tuple[Path, Path], tmp_path: Path) -> None:
    first, second = two_files
    with pytest.raises(KubeconfigError) as raised:
        load_minimal([first, second], "kind-ci-c")
    assert str(raised.value) == (
        f"KUBECONFIG {first}{os.pathsep}{second}: no context 'kind-ci-c' (contexts: kind-ci-a, kind-ci-b)"
    )
    (first.parent / "pki" / "client.key").unlink()
    with pytest.raises(KubeconfigError, match=rf"^{first}: user admin-a: client-key {first.parent}/pki/client.key: "):
        load_minimal([first], "kind-ci-a")
    with pytest.raises(KubeconfigError, match=r": no such file$"):
        load_minimal([tmp_path / "nothing"], "kind-ci-a")


def test_the_files_are_the_stacks_own_else_every_entry_of_kubeconfig(tmp_path: Path) -> None:
    env = {"KUBECONFIG": f"{tmp_path}/one{os.pathsep}{os.pathsep}{tmp_path}/two"}
    assert kubeconfig_files(None, env) == [tmp_path / "one", tmp_path / "two"]
    assert kubeconfig_files(str(tmp_path / "own"), env) == [tmp_path / "own"]
    assert kubeconfig_files(None, {}) == [Path.home() / ".kube" / "config"]


def test_existing_clusters_keep_only_their_own_context_in_state(
    two_files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = two_files
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(first), str(tmp_path / "missing"), str(second)]))
    run = run_program("ci-example", stack_config("ci-example"))
    providers = {r.name: r for r in run.of_type("pulumi:providers:kubernetes")}
    expected = {
        "ci-a": ("kind-ci-a", "https://10.0.0.1:6443", "admin-a"),
        "ci-b": ("kind-ci-b", "https://first.example:6443", "admin-b"),
    }
    for name, (context, server, user) in expected.items():
        inputs = providers[f"cluster-{name}-k8s"].inputs
        assert SECRET_SIG in inputs["kubeconfig"], f"{name}: the provider's kubeconfig is not secret"
        doc = yaml.safe_load(inputs["kubeconfig"]["value"])
        assert [c["name"] for c in doc["contexts"]] == [context]
        assert doc["clusters"][0]["cluster"]["server"] == server
        assert [u["name"] for u in doc["users"]] == [user]
        assert inputs["context"] == context
        assert inputs["clusterIdentifier"].startswith(f"{name}-")
    assert run.secret["kubeconfig"]
    assert set(run.outputs["kubeconfig"]) == {"ci-a", "ci-b"}
