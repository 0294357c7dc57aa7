"""Each daemon's command line and config files, as pure functions of the cluster and its folders."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from localcluster.config import API_PORT, ClusterSpec, Node

SANDBOX_IMAGE = "localhost/meshperf-pause:catatonit"


class Layout:
    """Where a run keeps its files: <run>/pki, <run>/etcd, <run>/logs, <run>/nodes/<node>/..."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.run = spec.run_dir
        self.pki = self.run / "pki"
        self.logs = self.run / "logs"
        self.etcd = self.run / "etcd"
        self.volumes = self.run / "volumes"

    def kubeconfig(self, who: str) -> Path:
        return self.run / "kubeconfigs" / f"{who}.yaml"

    def node_dir(self, node: Node) -> Path:
        return self.run / "nodes" / node.name

    def containerd_sock(self, node: Node) -> Path:
        return self.node_dir(node) / "containerd.sock"

    def cni_conf_dir(self, node: Node) -> Path:
        return self.node_dir(node) / "net.d"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"


def etcd(bin_dir: Path, lay: Layout) -> list[str]:
    """One member, plain HTTP on the control plane namespace's loopback (nothing else can reach it)."""
    return [
        str(bin_dir / "etcd"),
        "--name=local",
        f"--data-dir={lay.etcd}",
        "--listen-client-urls=http://127.0.0.1:2379",
        "--advertise-client-urls=http://127.0.0.1:2379",
        "--listen-peer-urls=http://127.0.0.1:2380",
        "--initial-advertise-peer-urls=http://127.0.0.1:2380",
        "--initial-cluster=local=http://127.0.0.1:2380",
        "--listen-metrics-urls=http://127.0.0.1:2381",
        "--log-level=warn",
        "--quota-backend-bytes=2147483648",
    ]


def apiserver(bin_dir: Path, lay: Layout) -> list[str]:
    p = lay.pki
    return [
        str(bin_dir / "kube-apiserver"),
        "--etcd-servers=http://127.0.0.1:2379",
        "--bind-address=0.0.0.0",
        f"--secure-port={API_PORT}",
        f"--advertise-address={lay.spec.cp_ip}",
        f"--service-cluster-ip-range={lay.spec.service_subnet}",
        f"--tls-cert-file={p / 'apiserver.crt'}",
        f"--tls-private-key-file={p / 'apiserver.key'}",
        f"--client-ca-file={p / 'ca.crt'}",
        f"--kubelet-client-certificate={p / 'apiserver-kubelet.crt'}",
        f"--kubelet-client-key={p / 'apiserver-kubelet.key'}",
        f"--service-account-key-file={p / 'sa.pub'}",
        f"--service-account-signing-key-file={p / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true",
        # The nodes by their InternalIP: no DNS in the control plane's namespace.
        "--kubelet-preferred-address-types=InternalIP",
        "--profiling=false",
        "--endpoint-reconciler-type=lease",
        "--v=1",
    ]


def controller_manager(bin_dir: Path, lay: Layout) -> list[str]:
    p = lay.pki
    kc = lay.kubeconfig("controller-manager")
    return [
        str(bin_dir / "kube-controller-manager"),
        f"--kubeconfig={kc}",
        f"--authentication-kubeconfig={kc}",
        f"--authorization-kubeconfig={kc}",
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
        "--allocate-node-cidrs=true",
        f"--cluster-cidr={lay.spec.pod_subnet}",
        "--node-cidr-mask-size=24",
        f"--service-cluster-ip-range={lay.spec.service_subnet}",
        f"--service-account-private-key-file={p / 'sa.key'}",
        f"--root-ca-file={p / 'ca.crt'}",
        f"--cluster-signing-cert-file={p / 'ca.crt'}",
        f"--cluster-signing-key-file={p / 'ca.key'}",
        "--use-service-account-credentials=true",
        "--controllers=*,-bootstrapsigner,-tokencleaner",
        "--profiling=false",
        "--v=1",
    ]


def scheduler(bin_dir: Path, lay: Layout) -> list[str]:
    kc = lay.kubeconfig("scheduler")
    return [
        str(bin_dir / "kube-scheduler"),
        f"--kubeconfig={kc}",
        f"--authentication-kubeconfig={kc}",
        f"--authorization-kubeconfig={kc}",
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ]


def containerd_config(lay: Layout, node: Node) -> str:
    """containerd 1.6 (config version 2): every path in the node's folder; runc with cgroupfs;
    the CNI config the cluster writes once the node has its pod CIDR; the local pause image."""
    d = lay.node_dir(node)
    cri = {
        "sandbox_image": SANDBOX_IMAGE,
        "enable_selinux": False,
        # No lowering of oom_score_adj below containerd's own: this machine denies it (no CAP_SYS_RESOURCE).
        "restrict_oom_score_adj": True,
        # Pod namespaces under the node's state folder, not /run/netns: the run folder holds all.
        "netns_mounts_under_state_dir": True,
        "containerd": {
            "snapshotter": "overlayfs",
            "default_runtime_name": "runc",
            "runtimes": {
                "runc": {
                    "runtime_type": "io.containerd.runc.v2",
                    "options": {"SystemdCgroup": False, "Root": str(d / "containerd" / "runc")},
                }
            },
        },
        "cni": {"bin_dir": "/usr/lib/cni", "conf_dir": str(lay.cni_conf_dir(node)), "max_conf_num": 1},
    }
    doc = {
        "version": 2,
        "root": str(d / "containerd" / "root"),
        "state": str(d / "containerd" / "state"),
        "disabled_plugins": [
            "io.containerd.snapshotter.v1.btrfs",
            "io.containerd.snapshotter.v1.zfs",
            "io.containerd.snapshotter.v1.devmapper",
            "io.containerd.snapshotter.v1.aufs",
            "io.containerd.tracing.processor.v1.otlp",
            "io.containerd.internal.v1.tracing",
        ],
        "grpc": {"address": str(lay.containerd_sock(node))},
        "ttrpc": {"address": str(d / "containerd.ttrpc.sock")},
        "debug": {"address": ""},
        "metrics": {"address": ""},
        "plugins": {
            "io.containerd.grpc.v1.cri": cri,
            "io.containerd.internal.v1.opt": {"path": str(d / "containerd" / "opt")},
        },
    }
    return _toml(doc)


def _toml(doc: dict[str, object], prefix: str = "") -> str:
    """The small TOML subset containerd's config needs: tables, strings, numbers, booleans, string lists."""
    scalars, tables = [], []
    for key, value in doc.items():
        if isinstance(value, dict):
            name = f"{prefix}.{_key(key)}" if prefix else _key(key)
            tables.append(f"\n[{name}]\n" + _toml(value, name))
        else:
            scalars.append(f"{_key(key)} = {json.dumps(value)}")
    return "\n".join(scalars) + "\n" + "".join(tables)


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def containerd(lay: Layout, node: Node) -> list[str]:
    return ["containerd", "--config", str(lay.node_dir(node) / "containerd.toml")]


def cni_conflist(lay: Layout, node: Node, pod_cidr: str) -> str:
    """The bridge plugin (hairpin on, for a pod reaching itself through its Service) with host-local IPAM
    in the node's pod CIDR, then portmap."""
    conf = {
        "cniVersion": "1.0.0",
        "name": "meshperf",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(lay.node_dir(node) / "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    return json.dumps(conf, indent=1)


def kubelet_config(lay: Layout, node: Node, cgroup_root: str) -> str:
    """cgroup v1 with the cgroupfs driver (failCgroupV1 off), pods under a cgroup of this run's own."""
    d = lay.node_dir(node)
    doc = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(lay.pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": cgroup_root,
        "cgroupsPerQOS": True,
        "failCgroupV1": False,
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{lay.containerd_sock(node)}",
        "podLogsDir": str(d / "pod-logs"),
        "volumePluginDir": str(d / "volume-plugins"),
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "readOnlyPort": 0,
        "serializeImagePulls": False,
        "clusterDomain": "cluster.local",
        "resolvConf": "/etc/resolv.conf",
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%"},
        "imageGCHighThresholdPercent": 99,
        "imageGCLowThresholdPercent": 98,
        "maxPods": 110,
        "podPidsLimit": 4096,
        "nodeStatusReportFrequency": "10s",
        "shutdownGracePeriod": "0s",
    }
    return yaml.safe_dump(doc, sort_keys=False)


def kubelet(bin_dir: Path, lay: Layout, node: Node) -> list[str]:
    d = lay.node_dir(node)
    labels = ",".join(f"{k}={v}" for k, v in sorted(node.labels.items()))
    return [
        str(bin_dir / "kubelet"),
        f"--config={d / 'kubelet.yaml'}",
        f"--kubeconfig={lay.kubeconfig('kubelet-' + node.name)}",
        f"--root-dir={d / 'kubelet'}",
        f"--cert-dir={d / 'kubelet' / 'pki'}",
        f"--hostname-override={node.name}",
        f"--node-ip={node.ip}",
        *([f"--node-labels={labels}"] if labels else []),
        "--v=1",
    ]


def kube_proxy_config(lay: Layout, node: Node) -> str:
    """iptables mode; the conntrack table size is the machine's (a global sysctl) and left alone."""
    doc = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(lay.kubeconfig("kube-proxy"))},
        "hostnameOverride": node.name,
        "mode": "iptables",
        "clusterCIDR": str(lay.spec.pod_subnet),
        "conntrack": {"maxPerCore": 0, "min": 0},
        "metricsBindAddress": "127.0.0.1:10249",
        "healthzBindAddress": "127.0.0.1:10256",
    }
    return yaml.safe_dump(doc, sort_keys=False)


def kube_proxy(bin_dir: Path, lay: Layout, node: Node) -> list[str]:
    return [str(bin_dir / "kube-proxy"), f"--config={lay.node_dir(node) / 'kube-proxy.yaml'}", "--v=1"]


def kube_router(bin_dir: Path, lay: Layout, node: Node) -> list[str]:
    """The NetworkPolicy controller only (iptables + ipset); routing and Services are the cluster's own."""
    return [
        str(bin_dir / "kube-router"),
        f"--kubeconfig={lay.kubeconfig('kube-router')}",
        f"--hostname-override={node.name}",
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        "--enable-cni=false",
        f"--service-cluster-ip-range={lay.spec.service_subnet}",
        "--health-port=20244",
        "--metrics-port=0",
        "--v=1",
    ]
