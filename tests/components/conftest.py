"""Running the real `__main__.py` under the Pulumi SDK's mocks, recording every registration."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ipaddress
import json
import runpy
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import get_root_resource
from pulumi_cli import PulumiCli

from components.logs import FolderLogReader
from components.results import figures
from manifests import CLUSTER
from results.context import RunContext
from spec.load import load_stack
from spec.model import FAMILIES
from spec.plan import Plan, build_plan

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "__main__.py"
STACKS = ROOT / "stacks"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
LAB_RUN = FIXTURES / "kind-mesh-run"
LAB_RUN_IPV6 = FIXTURES / "kind-dual-run-ipv6"  # the IPv6 cases of a real lab run of kind-dual
DYNAMIC = "pulumi-python:dynamic/meshperf:"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # pulumi's marker of a secret value on the wire
FAKE_KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\n# fake, for mocks\n"


def stand_in_kubeconfig(contexts: list[str], server: str = "https://127.0.0.1:{port}") -> str:
    """A kubeconfig with one cluster and user per context (inline stand-in data; no API server behind it)."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": contexts[0],
        "clusters": [
            {"name": c, "cluster": {"server": server.format(port=6443 + i), "certificate-authority-data": "Q0E="}}
            for i, c in enumerate(contexts)
        ],
        "users": [{"name": c, "user": {"token": f"stand-in-token-{c}"}} for c in contexts],
        "contexts": [{"name": c, "context": {"cluster": c, "user": c}} for c in contexts],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def stack_config(name: str) -> dict[str, str]:
    """A shipped stack's config as the CLI hands it over (tests/pulumi_cli.py)."""
    return PulumiCli.from_files(ROOT, name).program_config()


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    provider: str
    custom: bool
    dependencies: list[str]
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    secret_outputs: list[str]
    timeouts: dict[str, str]
    delete_before_replace: bool
    # The resource options the engine gets as URNs: `deleted_with`, and each input's dependencies.
    deleted_with: str = ""
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Run:
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret: dict[str, bool] = field(default_factory=dict)

    def of_type(self, suffix: str) -> list[Registration]:
        return [r for r in self.resources if r.type.endswith(suffix)]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)

    def kubernetes(self) -> list[Registration]:
        return [r for r in self.resources if r.type.startswith("kubernetes:")]


class Mocks(pulumi.runtime.Mocks):
    """Outputs the way a cluster would fill them in: pod IPs, cluster IPs, a kubeconfig, the figures."""

    def __init__(
        self, references: dict[str, dict[str, Any]] | None = None, families: dict[str, str] | None = None
    ) -> None:
        self.references = references or {}  # stack name -> the outputs a StackReference to it sees
        self.families = families or {}  # cluster -> its ip_family (ipv4 when absent), as its CNI hands out pod IPs

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outs = json.loads(json.dumps(args.inputs, default=str))
        t = args.typ
        # Addresses and uids follow the resource's name, not the order of registration (which
        # varies from run to run): a resource the engine would keep keeps them in a second run.
        if t == "kubernetes:core/v1:Pod":
            cluster = outs.get("metadata", {}).get("labels", {}).get(CLUSTER, "")
            families = FAMILIES[self.families.get(cluster, "ipv4")]  # type: ignore[index]
            ips = [_address(POD_BASES[f], args.name) for f in families]
            outs.setdefault("status", {}).update(podIP=ips[0], podIPs=[{"ip": ip} for ip in ips])
        elif t == "kubernetes:core/v1:Service" and outs.get("spec", {}).get("clusterIP") != "None":
            # As the API server allocates: one virtual IP per family of `ipFamilies`, the first also as clusterIP.
            ips = [_address(SERVICE_BASES[f], args.name) for f in outs["spec"].get("ipFamilies", ["IPv4"])]
            outs["spec"].update(clusterIP=ips[0], clusterIPs=ips)
        elif t.startswith("kubernetes:"):
            outs.setdefault("metadata", {})["uid"] = f"uid-{args.name}"
        if t == "kubernetes:batch/v1:Job":
            outs["metadata"]["uid"] = f"uid-{args.name}"
        if t == DYNAMIC + "KindCluster":
            outs["kubeconfig"] = FAKE_KUBECONFIG
        elif t == DYNAMIC + "KindImage":
            outs["image_id"] = "sha256:" + "0" * 64
        elif t == DYNAMIC + "KindMeshRoutes":
            outs["nodes"] = {
                c: [
                    {
                        "name": f"{c}-worker",
                        "ip": f"172.18.0.{10 + i}",
                        "pod_cidr": "10.0.0.0/24",
                        # kind's Docker network has IPv6; a node of a cluster with IPv6 pods has an IPv6 pod CIDR
                        **(
                            {"ip6": f"fc00:f853:ccd:e793::{10 + i}", "pod_cidr6": "fd00:10:244::/64"}
                            if self.families.get(c, "ipv4") != "ipv4"
                            else {}
                        ),
                    }
                ]
                for i, c in enumerate(outs["clusters"])
            }
        elif t == "pulumi:pulumi:StackReference":
            outs = {"name": outs["name"], "outputs": self.references.get(outs["name"], {}), "secretOutputNames": []}
        elif t == DYNAMIC + "ReadyPod":
            outs["pod_ip"] = _address("10.245.0.0", args.name)
        elif t == DYNAMIC + "Results":
            # What the provider computes: results/ on a log folder of this very plan (stand-in for the viewers).
            plan = Plan.model_validate_json(outs["plan"])
            context = RunContext.model_validate_json(outs["context"])
            outs.update(figures(plan, plan_logs(plan), context), read_errors=[])
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


# The stand-in CNI's and API server's ranges per family (kind's defaults).
POD_BASES = {"ipv4": "10.244.0.0", "ipv6": "fd00:10:244::"}
SERVICE_BASES = {"IPv4": "10.96.0.0", "IPv6": "fd00:10:96::"}


def _address(base: str, name: str) -> str:
    """An address in base's /16 (the low 16 bits for IPv6) fixed by the name, never a .0 or .255."""
    digest = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    return str(ipaddress.ip_address(base) + 256 * (1 + digest % 254) + 1 + digest // 254 % 254)


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, also keeping what MockResourceArgs leaves out (dependencies, options)."""

    def __init__(self, mocks: Mocks, run: Run) -> None:
        super().__init__(mocks)
        self.run = run

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the monitor's RPC name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        timeouts = request.customTimeouts
        self.run.resources.append(
            Registration(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent,
                provider=request.provider,
                custom=request.custom,
                dependencies=list(request.dependencies),
                inputs=self.resources[response.urn].state and _inputs(request),
                outputs=dict(self.resources[response.urn].state),
                secret_outputs=list(request.additionalSecretOutputs),
                timeouts={"create": timeouts.create, "update": timeouts.update, "delete": timeouts.delete},
                delete_before_replace=request.deleteBeforeReplace,
                deleted_with=request.deletedWith,
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            )
        )
        return response


def _inputs(request: Any) -> dict[str, Any]:
    from pulumi.runtime.sync_await import _sync_await

    _ = _sync_await  # the monitor already deserialized once; do it again for our copy
    return dict(rpc.deserialize_properties(request.object))


def run_program(
    stack: str,
    config: dict[str, str],
    run: Run | None = None,
    references: dict[str, dict[str, Any]] | None = None,
    project_dir: Path = ROOT,
    secret_keys: list[str] | None = None,
) -> Run:
    """The real __main__.py for `stack` with `config`, under mocks, on a fresh event loop,
    run from `project_dir` as the CLI runs a program from its project's folder."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    run = run if run is not None else Run()
    clusters = json.loads(config.get("meshperf:clusters", "[]"))
    mocks = Mocks(references, {c["name"]: c.get("ip_family", "ipv4") for c in clusters})
    pulumi.runtime.set_mocks(
        mocks, project="meshperf", stack=stack, preview=False, monitor=RecordingMonitor(mocks, run)
    )
    pulumi.runtime.set_all_config(config, secret_keys)

    @pulumi.runtime.test
    def program() -> Any:
        runpy.run_path(str(MAIN), run_name="__main__")
        root = get_root_resource()
        assert root is not None
        exported: dict[str, Any] = dict(root.outputs)  # type: ignore[attr-defined]

        async def gather() -> None:
            for key, value in exported.items():
                out = pulumi.Output.from_input(value)
                run.outputs[key] = await out.future()
                run.secret[key] = await out.is_secret()

        return asyncio.ensure_future(gather())

    mp = pytest.MonkeyPatch()
    mp.chdir(project_dir)
    try:
        program()
    finally:
        mp.undo()
        loop.close()
    return run


@functools.cache
def _lab_run() -> dict[str, str]:
    """The two lab runs' files as one log folder (their case ids differ: the IPv6 ones end in -ipv6)."""
    ipv4, ipv6 = (asyncio.run(FolderLogReader(folder).read()) for folder in (LAB_RUN, LAB_RUN_IPV6))
    return {**ipv4, **ipv6, "index.tsv": ipv4["index.tsv"] + ipv6["index.tsv"]}


def plan_logs(plan: Plan) -> dict[str, str]:
    """A log folder of `plan`: the lab run's raw output of the plan's cases, and their index lines.

    The lab runs are kind-mesh's plan as shipped and the IPv6 cases of kind-dual's; case ids name
    path, tool, MSS and family, so every shipped stack's netperf cases are in them. Cases they lack
    (E2SAR: the lab run had no `e2sar_perf`) are missing, as after a Job that never wrote them.
    """
    ids = {c.id for c in plan.cases} | {log for p in plan.e2sar for log in (p.receiver_id, p.sender_id)}
    files = {name: text for name, text in _lab_run().items() if name.rsplit(".", 1)[0] in ids}
    index = [line for line in _lab_run()["index.tsv"].splitlines() if line.split("\t")[0] in ids]
    return files | {"index.tsv": "".join(f"{line}\n" for line in index)}


def stack_figures(name: str) -> dict[str, Any]:
    """What `Results` gives for a shipped stack: results/ on a log folder of its own plan."""
    plan = build_plan(load_stack(name))
    return figures(plan, plan_logs(plan))


STACK_NAMES = ["kind-local", "kind-mesh", "ci-example", "kind-dual"]


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every shipped stack's program under mocks, once per session (ci-example's kubeconfig is a stand-in)."""
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    kubeconfig.write_text(stand_in_kubeconfig(["kind-ci-a", "kind-ci-b"]))
    mp = pytest.MonkeyPatch()
    mp.setenv("KUBECONFIG", str(kubeconfig))
    try:
        return {name: run_program(name, stack_config(name)) for name in STACK_NAMES}
    finally:
        mp.undo()


def split_lab_run(plan: Plan, tmp_path: Path) -> list[dict[str, Any]]:
    """The lab run's folder split by client, each as the log viewer of its node would hold it: the
    viewers the `Results` provider reads (each with a `folder` standing in for `kubectl cp`)."""
    index = (LAB_RUN / "index.tsv").read_text().splitlines()
    viewers = []
    for client in plan.clients():
        folder = tmp_path / client
        folder.mkdir()
        ids = {c.id for c in plan.cases_of(client)}
        for p in LAB_RUN.iterdir():
            if p.name.split(".")[0] in ids:
                shutil.copy(p, folder / p.name)
        (folder / "index.tsv").write_text("".join(f"{line}\n" for line in index if line.split("\t")[0] in ids))
        viewers.append({"namespace": "meshperf", "pod": f"viewer-{client}", "logdir": "/logs/1", "folder": str(folder)})
    return viewers
