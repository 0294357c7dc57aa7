"""`python -m localcluster up|down|status [-s STACK] [--cluster NAME]` (also `meshperf cluster ...`).

up      start the local cluster(s) the stack names (default stack: live), replacing previous ones;
        two or more are routed to each other (stacks/Pulumi.live-mesh.yaml)
down    stop them and remove everything they made
status  what is running, whether the nodes are Ready, and the links to other clusters
Without --cluster, every cluster of the stack that has a kubeconfig_context, in the stack's order.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from localcluster import mesh, procs
from localcluster.config import ClusterSpec, SpecError, all_from_stack
from localcluster.down import namespaces_of, teardown
from localcluster.probe import Api
from localcluster.shell import CommandError
from localcluster.state import load
from localcluster.tools import ToolsMissingError
from localcluster.up import UpError, up
from spec.load import StackError


def _status(spec: ClusterSpec) -> int:
    state = load(spec.run_dir)
    if state is None:
        left = namespaces_of(spec.name)
        print(f"cluster {spec.name}: not running" + (f" (namespaces left: {', '.join(left)})" if left else ""))
        return 1
    down = [p.name for p in state.processes if not procs.alive(p.pid)]
    print(
        f"cluster {spec.name}: {len(state.processes) - len(down)}/{len(state.processes)} processes running"
        + (f" (stopped: {', '.join(down)})" if down else "")
    )
    if state.api_port:
        nodes = Api(state.api_port, spec.run_dir / "pki").get("/api/v1/nodes")
        for node in (nodes or {}).get("items", []):
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))
            cidr = node["spec"].get("podCIDR", "")
            print(f"  node {node['metadata']['name']}: {'Ready' if ready else 'NotReady'} {cidr}")
        print(f"  kubeconfig {spec.kubeconfig} context {spec.context} (API on 127.0.0.1:{state.api_port})")
    if spec.peers:
        linked = mesh.linked_peers(spec, mesh.cp_ns_of(state.prefix))
        print(f"  routed to: {', '.join(linked) if linked else 'no other cluster (none running)'}")
    return 1 if down else 0


def down_all(specs: list[ClusterSpec]) -> int:
    failed = 0
    for spec in reversed(specs):
        left = teardown(spec.run_dir, spec.name)
        if left:
            print(f"[down] cluster {spec.name}: could not remove: {', '.join(left)}", file=sys.stderr)
            failed += 1
        else:
            print(f"[down] cluster {spec.name} removed")
    return 1 if failed else 0


def up_all(specs: list[ClusterSpec]) -> None:
    """Each cluster in turn; if one fails, those this command started before it are stopped too."""
    done: list[ClusterSpec] = []
    try:
        for i, spec in enumerate(specs, 1):
            if len(specs) > 1:
                print(f"[up] cluster {spec.name} ({i} of {len(specs)})", flush=True)
            up(spec)
            done.append(spec)
    except BaseException:
        if done:
            print(f"[up] stopping the clusters started before: {', '.join(s.name for s in done)}", flush=True)
            down_all(done)
        raise


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM as Ctrl-C: `up` then removes what it started before it exits."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meshperf cluster", description="a real local Kubernetes cluster")
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("-s", "--stack", default="live", help="the stack naming the cluster (default: live)")
    parser.add_argument("--cluster", help="the stack's cluster to make (default: its one with a kubeconfig_context)")
    args = parser.parse_args(argv)
    try:
        specs = all_from_stack(args.stack, args.cluster)
        if args.command == "status":
            return max(_status(spec) for spec in specs)
        if args.command == "down":
            return down_all(specs)
        signal.signal(signal.SIGTERM, _interrupt)
        up_all(specs)
        return 0
    except (StackError, SpecError, ToolsMissingError) as exc:
        print(f"meshperf cluster: {exc}", file=sys.stderr)
        return 2
    except (UpError, CommandError):
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
