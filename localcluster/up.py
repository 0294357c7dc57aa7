"""Starting a local cluster: namespaces, certificates, etcd and the control plane, then per node
containerd (with the images imported), kubelet, kube-proxy and kube-router; bounded waits with
progress lines. Any failure stops what was started and names the component with its log's tail."""

from __future__ import annotations

import secrets
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from localcluster import addons, cgroups, daemons, images, kubeconfig, mesh, netns, procs, tools
from localcluster.config import API_PORT, ClusterSpec, Node
from localcluster.daemons import Layout
from localcluster.down import namespaces_of, ns_prefix, teardown
from localcluster.pki import Pki
from localcluster.probe import Api, http_status
from localcluster.shell import CommandError, run, tail
from localcluster.state import Proc, State, save

Say = Callable[[str], None]
START_TIMEOUT_S = 120.0


class UpError(RuntimeError):
    """A component did not come up: str() names it, with the last lines of its log."""


class Starter:
    """One `up`: what it has started is in `state` (saved as it grows) for the teardown."""

    def __init__(self, spec: ClusterSpec, bin_dir: Path, say: Say) -> None:
        self.spec, self.bin, self.say = spec, bin_dir, say
        self.lay = Layout(spec)
        self.state = State(prefix=f"{ns_prefix(spec.name)}{secrets.token_hex(2)}")
        self.env = {"PATH": tools.env_path(bin_dir), "HOME": str(self.lay.run), "LANG": "C"}
        self.cp_ns = mesh.cp_ns_of(self.state.prefix)
        self.api: Api | None = None
        self.pod_cidrs: dict[str, str] = {}

    def node_ns(self, node: Node) -> str:
        return f"{self.state.prefix}-{node.name}"

    def cgroup_of(self, node: Node) -> str:
        return f"{self.state.cgroups[0]}/{node.name}"

    # -- processes -------------------------------------------------------------------------------------
    def start(self, name: str, argv: list[str], netns_name: str | None) -> Proc:
        proc = procs.start(name, argv, self.lay.log(name.replace("/", "-")), netns=netns_name, env=self.env)
        self.state.processes.append(proc)
        save(self.lay.run, self.state)
        return proc

    def wait(self, what: str, ready: Callable[[], bool], watch: list[Proc], timeout_s: float = START_TIMEOUT_S) -> None:
        """Until `ready()`, failing at once if a watched process dies, or after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while not ready():
            for proc in watch:
                if not procs.alive(proc.pid):
                    raise UpError(
                        f"{proc.name} exited while waiting for {what}; last lines of {proc.log}:\n{tail(proc.log)}"
                    )
            if time.monotonic() > deadline:
                logs = "\n".join(f"  {p.name} ({p.log}):\n{tail(p.log, 10)}" for p in watch)
                raise UpError(f"{what}: not ready after {timeout_s:.0f} s\n{logs}")
            time.sleep(0.5)

    # -- steps -----------------------------------------------------------------------------------------
    def prepare(self) -> None:
        longest = max(
            (self.lay.node_dir(n) / "containerd.ttrpc.sock" for n in self.spec.nodes), key=lambda p: len(str(p))
        )
        if len(str(longest)) > 100:
            raise UpError(f"{self.lay.run}: too deep for containerd's unix sockets ({longest} is over 100 bytes)")
        self.lay.run.mkdir(parents=True, exist_ok=True)
        self.lay.logs.mkdir(exist_ok=True)
        base = f"{cgroups.own_path()}/meshperf-{self.state.prefix}"
        self.state.cgroups.append(base)
        self.state.namespaces = [self.cp_ns, *(self.node_ns(n) for n in self.spec.nodes)]
        save(self.lay.run, self.state)
        self.say(f"[up] namespaces {self.cp_ns} and {len(self.spec.nodes)} node(s); run folder {self.lay.run}")
        if not Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists():
            raise UpError("br_netfilter is not loaded (modprobe br_netfilter): Services need it on the pods' bridge")
        netns.build(
            self.cp_ns,
            f"{self.spec.cp_ip}/{self.spec.link_net.prefixlen}",
            {self.node_ns(n): n.ip for n in self.spec.nodes},
            self.spec.link_net.prefixlen,
        )
        self.state.api_port = _free_port()
        save(self.lay.run, self.state)

    def certificates(self) -> None:
        pki = Pki(self.lay.pki)
        spec = self.spec
        pki.issue(
            "apiserver",
            "kube-apiserver",
            dns=(
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                "localhost",
            ),
            ips=("127.0.0.1", spec.cp_ip, spec.api_service_ip),
            server=True,
        )
        pki.issue("apiserver-kubelet", "kube-apiserver-kubelet-client", ("system:masters",))
        pki.issue("admin", "meshperf-admin", ("system:masters",))
        pki.issue("provisioner", "meshperf-provisioner")
        inside = f"https://{spec.cp_ip}:{API_PORT}"
        ca = pki.path("ca.crt")
        for who, cn, orgs in (
            ("controller-manager", "system:kube-controller-manager", ()),
            ("scheduler", "system:kube-scheduler", ()),
            ("kube-proxy", "system:kube-proxy", ()),
            ("kube-router", "kube-router", ()),
            *((f"kubelet-{n.name}", f"system:node:{n.name}", ("system:nodes",)) for n in spec.nodes),
        ):
            crt, key = pki.issue(who, cn, orgs)
            kubeconfig.write(self.lay.kubeconfig(who), server=inside, ca=ca, cert=crt, key=key)
        kubeconfig.write(
            self.lay.kubeconfig("admin"), server=inside, ca=ca, cert=pki.path("admin.crt"), key=pki.path("admin.key")
        )

    def control_plane(self) -> None:
        cp = self.cp_ns
        self.say("[up] etcd")
        etcd = self.start("etcd", daemons.etcd(self.bin, self.lay), cp)
        self.wait("etcd /health", lambda: http_status(cp, "127.0.0.1", 2379, "/health") == 200, [etcd])
        self.say("[up] kube-apiserver")
        apiserver = self.start("kube-apiserver", daemons.apiserver(self.bin, self.lay), cp)
        assert self.state.api_port is not None
        relay = self.start(
            "relay",
            [
                sys.executable,
                "-m",
                "localcluster.relay",
                str(self.state.api_port),
                cp,
                self.spec.cp_ip,
                str(API_PORT),
            ],
            None,
        )
        self.api = Api(self.state.api_port, self.lay.pki)
        api = self.api
        self.wait("kube-apiserver /readyz", lambda: api.get("/readyz") == "ok", [etcd, apiserver, relay])
        self.write_user_kubeconfig()
        self.say("[up] kube-controller-manager, kube-scheduler")
        cm = self.start("controller-manager", daemons.controller_manager(self.bin, self.lay), cp)
        sched = self.start("scheduler", daemons.scheduler(self.bin, self.lay), cp)
        self.wait(
            "kube-controller-manager /healthz",
            lambda: http_status(cp, "127.0.0.1", 10257, "/healthz", tls=True) == 200,
            [apiserver, cm],
        )
        self.wait(
            "kube-scheduler /healthz", lambda: http_status(cp, "127.0.0.1", 10259, "/healthz", tls=True) == 200, [sched]
        )
        self.create(addons.objects())
        self.start(
            "provisioner",
            [
                sys.executable,
                "-m",
                "localcluster.provisioner",
                str(self.state.api_port),
                str(self.lay.pki),
                str(self.lay.volumes),
            ],
            None,
        )

    def write_user_kubeconfig(self) -> None:
        p = self.lay.pki
        kubeconfig.write(
            self.spec.kubeconfig,
            server=f"https://127.0.0.1:{self.state.api_port}",
            ca=p / "ca.crt",
            cert=p / "admin.crt",
            key=p / "admin.key",
            context=self.spec.context,
            inline=True,
        )

    def create(self, objects: list[dict[str, Any]]) -> None:
        assert self.api is not None
        try:
            for obj in objects:
                self.api.create(obj)
        except (RuntimeError, requests.RequestException) as exc:
            raise UpError(f"the cluster's objects (StorageClass, roles): {exc}") from None

    def node(self, node: Node, archives: list[Path]) -> None:
        ns, d = self.node_ns(node), self.lay.node_dir(node)
        d.mkdir(parents=True, exist_ok=True)
        self.lay.cni_conf_dir(node).mkdir(exist_ok=True)
        self.say(f"[up] node {node.name}: containerd")
        (d / "containerd.toml").write_text(daemons.containerd_config(self.lay, node))
        containerd = self.start(f"containerd/{node.name}", daemons.containerd(self.lay, node), ns)
        sock = str(self.lay.containerd_sock(node))
        self.wait(f"containerd of {node.name}", lambda: ctr_ok(sock), [containerd])
        for archive in archives:
            self.say(f"[up] node {node.name}: importing {archive.name}")
            try:
                run(["ctr", "-a", sock, "-n", "k8s.io", "images", "import", str(archive)], timeout_s=300)
            except CommandError as exc:
                raise UpError(f"image import into {node.name}'s containerd: {exc}") from None
        self.say(f"[up] node {node.name}: kubelet")
        cgroups.make(self.cgroup_of(node))
        (d / "kubelet.yaml").write_text(daemons.kubelet_config(self.lay, node, self.cgroup_of(node)))
        kubelet = self.start(f"kubelet/{node.name}", daemons.kubelet(self.bin, self.lay, node), ns)
        api = self.api
        assert api is not None

        def has_cidr() -> bool:
            obj = api.get(f"/api/v1/nodes/{node.name}")
            cidr = obj.get("spec", {}).get("podCIDR") if isinstance(obj, dict) else None
            if cidr:
                self.pod_cidrs[node.name] = cidr
            return bool(cidr)

        self.wait(f"node {node.name} registered with a pod CIDR", has_cidr, [kubelet, containerd])
        cidr = self.pod_cidrs[node.name]
        self.say(f"[up] node {node.name}: pod CIDR {cidr}; CNI bridge, kube-proxy, kube-router")
        (self.lay.cni_conf_dir(node) / "10-meshperf.conflist").write_text(daemons.cni_conflist(self.lay, node, cidr))
        netns.ip(self.cp_ns, "route", "replace", cidr, "via", node.ip)
        for other in self.spec.nodes:
            if other.name != node.name and netns.exists(self.node_ns(other)):
                netns.ip(self.node_ns(other), "route", "replace", cidr, "via", node.ip)
                if other.name in self.pod_cidrs:
                    netns.ip(ns, "route", "replace", self.pod_cidrs[other.name], "via", other.ip)
        (d / "kube-proxy.yaml").write_text(daemons.kube_proxy_config(self.lay, node))
        proxy = self.start(f"kube-proxy/{node.name}", daemons.kube_proxy(self.bin, self.lay, node), ns)
        router = self.start(f"kube-router/{node.name}", daemons.kube_router(self.bin, self.lay, node), ns)

        def ready() -> bool:
            obj = api.get(f"/api/v1/nodes/{node.name}")
            conditions = obj.get("status", {}).get("conditions", []) if isinstance(obj, dict) else []
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        self.wait(f"node {node.name} Ready", ready, [kubelet, containerd, proxy, router])
        self.wait(
            f"kube-proxy of {node.name} /healthz",
            lambda: http_status(ns, "127.0.0.1", 10256, "/healthz") == 200,
            [proxy],
        )
        self.wait(
            f"kube-router of {node.name} /healthz",
            lambda: http_status(ns, "127.0.0.1", 20244, "/healthz") == 200,
            [router],
        )

    def settled(self) -> None:
        api = self.api
        assert api is not None
        self.wait(
            "the default ServiceAccount (controller-manager's token controller)",
            lambda: api.get("/api/v1/namespaces/default/serviceaccounts/default") is not None,
            [p for p in self.state.processes if p.name == "controller-manager"],
        )


def ctr_ok(sock: str) -> bool:
    if not Path(sock).exists():
        return False
    try:
        run(["ctr", "-a", sock, "version"], timeout_s=5)
    except CommandError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def up(spec: ClusterSpec, say: Say = print, bin_dir: Path | None = None) -> float:
    """The cluster running (a previous one of this name removed first); seconds it took to start.
    `bin_dir`: the built tools' folder (default: what scripts/live-tools.sh --check prints)."""
    tools.check_debian()
    bin_dir = bin_dir or tools.bin_dir()
    if spec.run_dir.exists() or namespaces_of(spec.name):
        say(f"[up] removing what a previous cluster {spec.name!r} left")
        left = teardown(spec.run_dir, spec.name, say)
        if left:
            raise UpError(f"the previous cluster could not be removed: {', '.join(left)}")
    archives = [images.pause_archive(say), images.tool_archive(say)]
    started = time.monotonic()
    starter = Starter(spec, bin_dir, say)
    try:
        starter.prepare()
        starter.certificates()
        starter.control_plane()
        for node in spec.nodes:
            starter.node(node, archives)
        starter.settled()
        if spec.peers:
            mesh.connect(spec, starter.cp_ns, say)
    except BaseException as exc:
        say(f"[up] failed: {exc}" if isinstance(exc, (UpError, CommandError)) else f"[up] interrupted: {exc!r}")
        say("[up] stopping what was started")
        left = teardown(spec.run_dir, spec.name, say)
        if left:
            say(f"[up] could not remove: {', '.join(left)}")
        raise
    took = time.monotonic() - started
    say(f"[up] cluster {spec.name!r} ready in {took:.0f} s")
    say(f"[up] kubectl --kubeconfig {spec.kubeconfig} --context {spec.context} get nodes")
    return took
