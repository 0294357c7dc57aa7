"""The command line: `python -m hosts apply INVENTORY DEPLOY [--check]`, `python -m hosts facts INVENTORY FACT...`.

Exit status (docs/results.md's table, the same for every command line of meshperf): 0 when every
host succeeded, 1 when a host failed or was unreachable (or the `--json` report could not be
written after the run), 2 for bad input (one line naming the file, key or option, before any
host is touched).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from hosts.deploy import Deploy, DeployError, load_deploy
from hosts.executor import RunReport, apply
from hosts.facts import FACTS_BY_NAME
from hosts.inventory import InventoryError, load_inventory
from hosts.report import Progress, output_problem, summary, to_json, write_private

HOST_FAILED, BAD_INPUT = 1, 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m hosts", description="Ansible-free host automation over asyncssh")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("apply", help="apply a deploy file to the inventory's hosts")
    run.add_argument("inventory", type=Path, help="inventory YAML: defaults, groups, hosts")
    run.add_argument("deploy", type=Path, help="deploy YAML: gather and operations")
    run.add_argument("--check", action="store_true", help="show what would change, change nothing")
    facts = sub.add_parser("facts", help="read facts and print them as JSON")
    facts.add_argument("inventory", type=Path, help="inventory YAML or a stack file with meshperf:hosts")
    facts.add_argument("facts", nargs="+", choices=sorted(FACTS_BY_NAME), help="facts to read (the JSON keys)")
    for p in (run, facts):
        p.add_argument("--limit", help="comma-separated hosts and groups")
        p.add_argument("--forks", type=int, default=64, help="hosts worked on at once (default 64)")
        p.add_argument("--json", type=Path, help="also write the full report as JSON to this file")
        p.add_argument("-v", "--verbose", action="store_true", help="show each change and its commands")
    return parser.parse_args(argv)


def option_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the options that the deploy would only find out at its end, if anything."""
    if args.forks < 1:
        return f"--forks {args.forks}: must be at least 1"
    if args.json is not None and (problem := output_problem(args.json)):
        return f"--json {args.json}: {problem}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if problem := option_problem(args):
        print(f"error: {problem}", file=sys.stderr)
        return BAD_INPUT
    try:
        inventory = load_inventory(args.inventory)
        hosts = inventory.select(args.limit)
        deploy = load_deploy(args.deploy) if args.command == "apply" else Deploy(gather=args.facts)
    except (InventoryError, DeployError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    try:
        gather = deploy.gather_facts()
        # Every host's deploy is checked before any host is connected to.
        operations = {h.name: deploy.operations_for(h) for h in hosts}
    except DeployError as exc:
        print(f"error: {getattr(args, 'deploy', 'facts')}: {exc}", file=sys.stderr)
        return BAD_INPUT
    progress = Progress(len(hosts), sys.stderr, args.verbose)
    run: RunReport = asyncio.run(
        apply(
            inventory,
            lambda h: operations[h.name],
            hosts=hosts,
            gather=gather,
            check=getattr(args, "check", False),
            forks=args.forks,
            progress=progress,
        )
    )
    unsaved = None
    if args.json:
        try:
            write_private(args.json, to_json(run))
        except OSError as exc:  # after the changes: say so, and still show what was done
            unsaved = f"error: --json {args.json}: the report was not written: {exc.strerror or exc}"
    if args.command == "facts":
        print(to_json(run))
    print(summary(run), file=sys.stderr if args.command == "facts" else sys.stdout)
    if unsaved:
        print(unsaved, file=sys.stderr)
    return HOST_FAILED if run.failed or unsaved else 0


if __name__ == "__main__":
    sys.exit(main())
