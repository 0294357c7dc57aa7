"""The cluster's own objects: the default StorageClass and the access of kube-router and the provisioner."""

from __future__ import annotations

from typing import Any

from localcluster.provisioner import CLASS, PROVISIONER

READ = ["get", "list", "watch"]


def objects() -> list[dict[str, Any]]:
    storage_class: dict[str, Any] = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }
    return [
        storage_class,
        *_role(
            "meshperf:kube-router",
            "kube-router",
            [
                {
                    "apiGroups": [""],
                    "resources": ["pods", "namespaces", "nodes", "services", "endpoints"],
                    "verbs": READ,
                },
                {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": READ},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": READ},
                {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch", "update"]},
            ],
        ),
        *_role(
            "meshperf:provisioner",
            "meshperf-provisioner",
            [
                {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": [*READ, "create", "delete"]},
                {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": READ},
                {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": READ},
            ],
        ),
    ]


def _role(name: str, user: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }
    return [role, binding]
