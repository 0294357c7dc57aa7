"""`python -m localcluster up|down|status [-s STACK] [--cluster NAME]` (also `meshperf cluster ...`).

up      start the local cluster the stack names (default stack: live), replacing a previous one
down    stop it and remove everything it made
status  what is running, and whether the nodes are Ready
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from localcluster import procs
from localcluster.config import ClusterSpec, SpecError, from_stack
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
    return 1 if down else 0


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
        spec = from_stack(args.stack, args.cluster)
        if args.command == "status":
            return _status(spec)
        if args.command == "down":
            left = teardown(spec.run_dir, spec.name)
            if left:
                print(f"[down] could not remove: {', '.join(left)}", file=sys.stderr)
                return 1
            print(f"[down] cluster {spec.name} removed")
            return 0
        signal.signal(signal.SIGTERM, _interrupt)
        up(spec)
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
