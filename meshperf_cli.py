"""`meshperf`: one command line for the lab, the cluster, the results and the hosts, from any folder.

`meshperf lab up|clean ...` is `python -m netlab ...`, `meshperf cluster ...` is
`python -m localcluster ...`, `meshperf results ...` is `python -m results ...`,
`meshperf hosts ...` is `python -m hosts ...`; each keeps its own options and exit codes.
Installed as a console script by `pip install -e .` (scripts/install.sh).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

USAGE = """usage: meshperf [--version] {lab,cluster,results,hosts} ...

  lab up [-s STACK] [--quick]   run a stack's suites in the network lab (python -m netlab)
  lab clean                     remove what a killed lab run left behind
  cluster up|down|status [-s STACK]   a real local Kubernetes cluster (python -m localcluster)
  results parse|report|e2sar|compare ...   raw logs to figures, reports and verdicts (python -m results)
  hosts apply|facts ...         Ansible-free host automation over SSH (python -m hosts)

`meshperf COMMAND --help` shows a command's options."""


def _lab(argv: list[str]) -> int:
    from netlab.__main__ import main

    return main(argv)


def _cluster(argv: list[str]) -> int:
    from localcluster.__main__ import main

    return main(argv)


def _results(argv: list[str]) -> int:
    from results.__main__ import main

    return main(argv)


def _hosts(argv: list[str]) -> int:
    from hosts.__main__ import main

    return main(argv)


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "lab": _lab,
    "cluster": _cluster,
    "results": _results,
    "hosts": _hosts,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    if args[0] in ("-V", "--version"):
        from results.version import meshperf_version

        print(f"meshperf {meshperf_version()}")
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"meshperf: unknown command {args[0]!r} (choose from {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    return command(args[1:])


if __name__ == "__main__":
    sys.exit(main())
