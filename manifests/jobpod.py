"""The pod of a Job that runs a script: the client Jobs' and the E2SAR Jobs' one template.

One container runs a script from the Job's ConfigMap with the environment every script
expects, and writes its logs to the claim of its node (read back by that node's viewer).
"""

from __future__ import annotations

from manifests.base import (
    PART_OF,
    RUN_ID,
    SCRIPTS_DIR,
    WORKLOAD,
    Obj,
    bandwidth_annotations,
    container_security,
    pod_security,
    tmp_volume,
)
from manifests.scene import Scene
from manifests.testbed import claim_name
from spec.model import is_host_workload


def script_pod_template(scene: Scene, workload: str, labels: dict[str, str], container: Obj, *, scripts: str) -> Obj:
    """The pod template of `workload`'s Job, before its log folder and hash are set.

    `container` says what differs (name, image, pull policy, command, resources, ports, and
    its own `env`, which follows TMPDIR and LANG); `scripts` names the ConfigMap it runs from.
    """
    stack, kube = scene.stack, scene.kube
    _, node = stack.node_of(workload)
    mount, volume = tmp_volume()
    # The host baseline's clients run in their node's network namespace (kube-network-policies
    # selects no such pod: its policies never apply there).
    host = {"hostNetwork": True} if is_host_workload(workload) else {}
    runner = {
        **container,
        "env": [{"name": "TMPDIR", "value": "/tmp"}, {"name": "LANG", "value": "C"}, *container.get("env", [])],
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "logs", "mountPath": kube.logs.mount_path},
            {"name": "scripts", "mountPath": SCRIPTS_DIR, "readOnly": True},
            mount,
        ],
    }
    return {
        "metadata": {
            "labels": {**PART_OF, WORKLOAD: workload, **labels},
            "annotations": {RUN_ID: stack.run_id, **bandwidth_annotations(stack.workload(workload))},
        },
        "spec": {
            "restartPolicy": "Never",
            **host,
            "nodeSelector": dict(stack.workload(workload).node_selector),
            "securityContext": pod_security(),
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "containers": [runner],
            "volumes": [
                {"name": "logs", "persistentVolumeClaim": {"claimName": claim_name(node.name)}},
                {"name": "scripts", "configMap": {"name": scripts, "defaultMode": 0o555}},
                volume,
            ],
        },
    }
