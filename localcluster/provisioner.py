"""`python -m localcluster.provisioner PORT PKI VOLUMES`: the local StorageClass's provisioner.

The class binds on first consumer (WaitForFirstConsumer): once the scheduler has picked a node
for a claim's pod (annotation `volume.kubernetes.io/selected-node`), this makes a `local`
PersistentVolume in a folder of VOLUMES, pinned to that node and bound to the claim; a
released volume is deleted with its folder. Open to every user in the folder (mode 1777): the
tool image runs as uid 10001, and a local volume does not apply fsGroup.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

from localcluster.probe import Api

CLASS = "meshperf-local"
PROVISIONER = "meshperf.local/hostpath"
SELECTED = "volume.kubernetes.io/selected-node"
POLL_S = 1.0


def volume_for(claim: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The PersistentVolume for a pending claim on its selected node."""
    meta, spec = claim["metadata"], claim["spec"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"pvc-{meta['uid']}", "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec["accessModes"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": CLASS,
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "claimRef": {"namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]},
            "local": {"path": str(folder)},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": [meta["annotations"][SELECTED]],
                                }
                            ]
                        }
                    ]
                }
            },
        },
    }


def sync(api: Api, volumes: Path) -> None:
    """One pass: a volume for each pending claim of the class on a selected node; released ones deleted."""
    claims = api.get("/api/v1/persistentvolumeclaims") or {"items": []}
    for claim in claims["items"]:
        meta = claim["metadata"]
        if (
            claim["spec"].get("storageClassName") == CLASS
            and claim.get("status", {}).get("phase") == "Pending"
            and SELECTED in meta.get("annotations", {})
            and not claim["spec"].get("volumeName")
        ):
            folder = volumes / f"{meta['namespace']}-{meta['name']}-{meta['uid'][:8]}"
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o1777)
            r = api.send("POST", "/api/v1/persistentvolumes", volume_for(claim, folder))
            if r.status_code not in (201, 409):
                print(f"provisioner: {meta['namespace']}/{meta['name']}: {r.status_code} {r.text[:200]}", flush=True)
            elif r.status_code == 201:
                print(f"provisioner: made pvc-{meta['uid']} for {meta['namespace']}/{meta['name']}", flush=True)
    pvs = api.get("/api/v1/persistentvolumes") or {"items": []}
    for pv in pvs["items"]:
        annotations = pv["metadata"].get("annotations", {})
        if annotations.get("pv.kubernetes.io/provisioned-by") != PROVISIONER:
            continue
        if pv.get("status", {}).get("phase") in ("Released", "Failed"):
            r = api.send("DELETE", f"/api/v1/persistentvolumes/{pv['metadata']['name']}")
            if r.status_code in (200, 202, 404):
                shutil.rmtree(pv["spec"]["local"]["path"], ignore_errors=True)
                print(f"provisioner: deleted {pv['metadata']['name']}", flush=True)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m localcluster.provisioner PORT PKI VOLUMES", file=sys.stderr)
        return 2
    api = Api(int(argv[0]), Path(argv[1]), who="provisioner")
    volumes = Path(argv[2])
    print(f"provisioner: class {CLASS}, volumes in {volumes}", flush=True)
    while True:
        try:
            sync(api, volumes)
        except Exception as exc:  # a daemon: say it and try again
            print(f"provisioner: {type(exc).__name__}: {exc}", flush=True)
        time.sleep(POLL_S)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
