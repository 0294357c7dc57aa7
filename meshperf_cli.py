"""`meshperf`: one command line for the lab, the cluster, the results and the hosts, from any folder.

`meshperf lab up|clean ...` is `python -m netlab ...`, `meshperf cluster ...` is
`python -m localcluster ...`, `meshperf results ...` is `python -m results ...`,
`meshperf hosts ...` is `python -m hosts ...`; each keeps its own options and exit codes.
`meshperf docs` writes the stack-key reference and the stack file's JSON Schema from the
models (spec/reference.py); `--check` only compares. Installed as a console script by
`pip install -e .` (scripts/install.sh).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

USAGE = """usage: meshperf [--version] {lab,cluster,results,hosts,docs} ...

  lab up [-s STACK] [--quick]   run a stack's suites in the network lab (python -m netlab)
  lab clean                     remove what a killed lab run left behind
  cluster up|down|status [-s STACK]   a real local Kubernetes cluster (python -m localcluster)
  results parse|report|e2sar|compare ...   raw logs to figures, reports and verdicts (python -m results)
  hosts apply|facts ...         Ansible-free host automation over SSH (python -m hosts)
  docs [--check]                write docs/stack.md and docs/stack.schema.json from the models

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


PROJECT = Path(__file__).resolve().parent
STALE = 1


def _docs(argv: list[str]) -> int:
    """Write the generated docs, or with --check say which committed ones differ from the models (exit 1)."""
    parser = argparse.ArgumentParser(prog="meshperf docs", description="the stack reference and schema, from spec/")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming each stale file")
    parser.add_argument("--root", type=Path, default=PROJECT, help="the project folder (default: this checkout)")
    args = parser.parse_args(argv)
    from spec.reference import TEMPLATE_FILE, generated_files

    try:
        files = generated_files((args.root / TEMPLATE_FILE).read_text())
    except (OSError, ValueError) as exc:
        print(f"meshperf docs: {getattr(exc, 'strerror', None) or exc}: {args.root / TEMPLATE_FILE}", file=sys.stderr)
        return 2
    stale = []
    for name, text in files.items():
        path = args.root / name
        current = path.read_text() if path.is_file() else None
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {name}")
    if args.check and stale:
        for name in stale:
            print(f"meshperf docs: {name} is stale: run `meshperf docs` and commit it", file=sys.stderr)
        return STALE
    if not stale:
        print(f"up to date: {', '.join(files)}")
    return 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "lab": _lab,
    "cluster": _cluster,
    "results": _results,
    "hosts": _hosts,
    "docs": _docs,
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
