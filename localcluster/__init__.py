"""A real local Kubernetes cluster for the live tier, started and stopped by the project.

Every process (etcd, the control plane, containerd, kubelet, kube-proxy, kube-router) runs on
this machine inside network namespaces this package creates with a per-run prefix; the API
server is reached from the machine's own namespace only through a relay on 127.0.0.1.
Nothing in the project imports this package except the command line (`meshperf cluster`).
"""
