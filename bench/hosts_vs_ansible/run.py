"""meshperf's hosts layer against Ansible, pyinfra and a bare asyncssh floor, on namespace hosts.

The same deploy for every tool: gather facts, 3 sysctls set and persisted, a file written,
a line ensured in a file; each tool from a cold start, then again when nothing changes.
Every tool runs inside the lab's controller namespace. Needs root.

    .venv/bin/python bench/hosts_vs_ansible/run.py --hosts 10 50
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))  # sshlab records its namespaces with netlab.namespaces
sys.path.insert(0, str(ROOT / "tests" / "hosts"))

from sshlab import CONTROLLER_ADDRESS, SshLab  # type: ignore[import-not-found]  # noqa: E402

SYSCTLS = {"net.ipv4.tcp_fin_timeout": "30", "net.ipv4.tcp_keepalive_time": "600", "net.ipv4.tcp_syn_retries": "4"}
CONTENT = "meshperf bench\n"
LINE = f"{CONTROLLER_ADDRESS} controller"
TOOLS = ("hosts", "ansible", "pyinfra", "floor")
RUN_LIMIT_S = 900
# Goals at the largest N: each tool's time over meshperf hosts' time, cold and again, at least this.
# The floor's goal is `hosts` within 1.5x of the bare asyncssh floor: floor / hosts >= 1 / 1.5.
RATIO_GOALS = {"ansible": 10.0, "pyinfra": 5.0, "floor": 1 / 1.5}


def ensure_tools() -> None:
    """Install the benchmark's own requirements into this venv when they are missing."""
    if importlib.util.find_spec("ansible") and importlib.util.find_spec("pyinfra"):
        return
    requirements = ROOT / "bench" / "requirements.txt"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)


# --- each tool's input ------------------------------------------------------------------------


def write_hosts(lab: SshLab, d: Path) -> list[str]:
    (d / "inventory.yaml").write_text(yaml.safe_dump(lab.inventory()))
    ops: list[dict[str, object]] = [
        {"sysctl": {"key": k, "value": v, "persist_file": "${sysctl_file}"}} for k, v in SYSCTLS.items()
    ]
    ops += [
        {"file": {"path": "${dir}/motd", "content": CONTENT, "mode": "0644"}},
        {"line": {"path": "${dir}/hosts.conf", "line": LINE}},
    ]
    (d / "deploy.yaml").write_text(yaml.safe_dump({"gather": ["os_release", "kernel"], "operations": ops}))
    return [str(VENV_BIN / "python"), "-m", "hosts", "apply", str(d / "inventory.yaml"), str(d / "deploy.yaml")]


def write_ansible(lab: SshLab, d: Path) -> list[str]:
    lines = ["[bench]"] + [
        f"{h.name} ansible_host={h.address} dir={h.workdir} sysctl_file={h.workdir / 'sysctl.conf'}" for h in lab.hosts
    ]
    lines += [
        "[bench:vars]",
        "ansible_user=root",
        f"ansible_ssh_private_key_file={lab.client_key}",
        "ansible_python_interpreter=/usr/bin/python3",
    ]
    (d / "inventory.ini").write_text("\n".join(lines) + "\n")
    (d / "ansible.cfg").write_text(
        f"[defaults]\nforks = {len(lab.hosts)}\nhost_key_checking = True\nretry_files_enabled = False\n"
        f"[ssh_connection]\npipelining = True\ncontrol_path_dir = {d / 'cp'}\n"
        f"ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile={lab.known_hosts}\n"
    )
    tasks: list[dict[str, object]] = [
        {
            "ansible.posix.sysctl": {
                "name": k,
                "value": v,
                "sysctl_file": "{{ sysctl_file }}",
                "reload": True,
                "state": "present",
            }
        }
        for k, v in SYSCTLS.items()
    ]
    tasks += [
        {"ansible.builtin.copy": {"content": CONTENT, "dest": "{{ dir }}/motd", "mode": "0644"}},
        {"ansible.builtin.lineinfile": {"path": "{{ dir }}/hosts.conf", "line": LINE, "create": True}},
    ]
    (d / "play.yml").write_text(yaml.safe_dump([{"hosts": "all", "gather_facts": True, "tasks": tasks}]))
    return [str(VENV_BIN / "ansible-playbook"), "-i", str(d / "inventory.ini"), str(d / "play.yml")]


def write_pyinfra(lab: SshLab, d: Path) -> list[str]:
    hosts = [
        (
            h.address,
            {
                "ssh_user": "root",
                "ssh_key": str(lab.client_key),
                "ssh_known_hosts_file": str(lab.known_hosts),
                "ssh_strict_host_key_checking": "yes",
                "dir": str(h.workdir),
                "sysctl_file": str(h.workdir / "sysctl.conf"),
            },
        )
        for h in lab.hosts
    ]
    (d / "inventory.py").write_text(f"bench = {hosts!r}\n")
    (d / "deploy.py").write_text(
        "from io import StringIO\n"
        "from pyinfra import host\n"
        "from pyinfra.facts.server import Kernel, OsRelease\n"
        "from pyinfra.operations import files, server\n"
        "host.get_fact(OsRelease)\nhost.get_fact(Kernel)\n"
        f"for key, value in {SYSCTLS!r}.items():\n"
        "    server.sysctl(key=key, value=value, persist=True, persist_file=host.data.sysctl_file)\n"
        f"files.put(src=StringIO({CONTENT!r}), dest=host.data.dir + '/motd', mode='644')\n"
        f"files.line(path=host.data.dir + '/hosts.conf', line={'^' + LINE + '$'!r})\n"
    )
    return [
        str(VENV_BIN / "pyinfra"),
        str(d / "inventory.py"),
        str(d / "deploy.py"),
        "--parallel",
        str(len(lab.hosts)),
        "-y",
    ]


def write_floor(lab: SshLab, d: Path) -> list[str]:
    hosts = [
        {"address": h.address, "dir": str(h.workdir), "sysctl_file": str(h.workdir / "sysctl.conf")} for h in lab.hosts
    ]
    inv = {"key": str(lab.client_key), "known_hosts": str(lab.known_hosts), "hosts": hosts}
    (d / "floor.json").write_text(json.dumps(inv))
    return [str(VENV_BIN / "python"), str(HERE / "floor.py"), str(d / "floor.json")]


WRITERS: dict[str, Callable[[SshLab, Path], list[str]]] = {
    "hosts": write_hosts,
    "ansible": write_ansible,
    "pyinfra": write_pyinfra,
    "floor": write_floor,
}


# --- measuring --------------------------------------------------------------------------------


def reset(lab: SshLab, defaults: dict[str, str]) -> None:
    """Back to the state before any deploy: default sysctls, no files."""
    for h in lab.hosts:
        script = "; ".join(f"echo {v} > /proc/sys/{k.replace('.', '/')}" for k, v in defaults.items())
        lab.in_host(h, ["sh", "-c", script])
        for name in ("motd", "hosts.conf", "sysctl.conf"):
            (h.workdir / name).unlink(missing_ok=True)


def deployed(lab: SshLab) -> bool:
    for h in lab.hosts:
        live = lab.in_host(h, ["cat", *(f"/proc/sys/{k.replace('.', '/')}" for k in SYSCTLS)]).split()
        persisted = (h.workdir / "sysctl.conf").read_text() if (h.workdir / "sysctl.conf").exists() else ""
        lines = (h.workdir / "hosts.conf").read_text().splitlines() if (h.workdir / "hosts.conf").exists() else []
        motd = (h.workdir / "motd").read_text() if (h.workdir / "motd").exists() else ""
        lines_kv = {ln.partition("=")[0].strip(): ln.partition("=")[2].strip() for ln in persisted.splitlines()}
        ok = live == list(SYSCTLS.values()) and all(lines_kv.get(k) == v for k, v in SYSCTLS.items())
        if not (ok and motd == CONTENT and LINE in lines):
            return False
    return True


def timed(lab: SshLab, argv: list[str], env: dict[str, str], log: Path) -> tuple[float, int]:
    t0 = time.monotonic()
    proc = lab.in_controller(argv, env=env, cwd=str(ROOT), timeout=RUN_LIMIT_S)
    elapsed = time.monotonic() - t0
    log.write_text(f"$ {' '.join(argv)}\nexit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.returncode


def bench(n: int, tools: list[str], workdir: Path) -> dict[str, tuple[float, float, bool]]:
    lab = SshLab(n, workdir / f"n{n}")
    results: dict[str, tuple[float, float, bool]] = {}
    try:
        lab.start()
        defaults = dict(
            zip(
                SYSCTLS,
                lab.in_host(lab.hosts[0], ["cat", *(f"/proc/sys/{k.replace('.', '/')}" for k in SYSCTLS)]).split(),
                strict=True,
            )
        )
        for tool in tools:
            d = lab.workdir / tool
            d.mkdir(exist_ok=True)
            argv = WRITERS[tool](lab, d)
            env = {
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "ANSIBLE_CONFIG": str(d / "ansible.cfg"),
                "ANSIBLE_HOME": str(d / "ansible-home"),
                "LC_ALL": "C.UTF-8",
                "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
            }
            reset(lab, defaults)
            lab.kill_processes_in(lab.controller_ns)  # no ControlPersist master left from an earlier tool
            cold, rc1 = timed(lab, argv, env, d / "cold.log")
            state = deployed(lab) and rc1 == 0
            again, rc2 = timed(lab, argv, env, d / "again.log")
            results[tool] = (cold, again, state and rc2 == 0)
            verdict = "ok" if results[tool][2] else "FAILED (see logs)"
            print(f"  N={n} {tool:<8} cold {cold:7.2f}s  again {again:7.2f}s  {verdict}", flush=True)
    finally:
        lab.stop()
    return results


def table(n: int, results: dict[str, tuple[float, float, bool]]) -> str:
    ours = results.get("hosts")
    lines = [f"N = {n} hosts", f"{'tool':<10}{'cold s':>9}{'again s':>9}{'cold/hosts':>12}{'again/hosts':>13}  state"]
    for tool, (cold, again, ok) in results.items():
        ratio = f"{cold / ours[0]:>11.1f}x{again / ours[1]:>12.1f}x" if ours else ""
        lines.append(f"{tool:<10}{cold:>9.2f}{again:>9.2f} {ratio}  {'ok' if ok else 'FAILED'}")
    return "\n".join(lines)


def goal_misses(results: dict[str, tuple[float, float, bool]]) -> list[str]:
    """One line per goal missed by one N's results (cold s, again s, ok per tool); [] when all are met."""
    misses = [f"{tool}: FAILED" for tool, (*_, ok) in results.items() if not ok]
    if "hosts" not in results:
        return misses
    ours = results["hosts"]
    for tool, goal in RATIO_GOALS.items():
        if tool in results:
            for label, theirs, mine in (("cold", results[tool][0], ours[0]), ("again", results[tool][1], ours[1])):
                if theirs / mine < goal:
                    misses.append(f"{tool} {label}: {theirs / mine:.2f}x, goal >= {goal:.2f}x")
    return misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, of {', '.join(TOOLS)}")
    parser.add_argument("--keep", type=Path, help="keep inputs and logs in this folder (default: a removed temp dir)")
    args = parser.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown or not tools or min(args.hosts) < 1:
        print(
            f"error: --tools from {', '.join(TOOLS)} (not {', '.join(unknown) or 'none'}); --hosts at least 1",
            file=sys.stderr,
        )
        return 2
    if os.geteuid() != 0:
        print("error: needs root (ip netns)", file=sys.stderr)
        return 2
    ensure_tools()
    now, load = datetime.now(UTC), os.getloadavg()[0]
    print(f"hosts_vs_ansible {now:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load {load:.2f}")
    with tempfile.TemporaryDirectory(prefix="mphbench-") as tmp:
        workdir = args.keep or Path(tmp)
        all_results = {n: bench(n, tools, workdir) for n in args.hosts}
    print()
    for n, results in all_results.items():
        print(table(n, results))
        print()
    print("ratios are tool time / meshperf hosts time (higher: meshperf faster; floor below 1.0 means hosts is slower)")
    top = max(all_results)
    # Ratio goals hold at the largest N; a tool that failed is a miss at any N.
    misses = [f"N = {n}: {m}" for n, got in all_results.items() for m in goal_misses(got) if n == top or "FAIL" in m]
    print("verdict: " + ("; ".join(misses) if misses else f"every goal met at N = {top}"))
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
