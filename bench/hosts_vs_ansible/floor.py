"""The floor: one asyncssh connection per host, one command to read state and one to change it.

What any tool doing this deploy over SSH must at least spend. Usage: floor.py INVENTORY_JSON.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from pathlib import Path

from hosts.connectors.quiet_asyncssh import asyncssh

SYSCTLS = {"net.ipv4.tcp_fin_timeout": "30", "net.ipv4.tcp_keepalive_time": "600", "net.ipv4.tcp_syn_retries": "4"}
CONTENT = "meshperf bench\n"
LINE = "10.251.0.1 controller"


async def one(host: dict[str, str], key: str, known_hosts: str) -> bool:
    d, sysctl_file = host["dir"], host["sysctl_file"]
    async with asyncssh.connect(
        host["address"], username="root", client_keys=[key], known_hosts=known_hosts, config=None
    ) as conn:
        read = "; ".join(
            [
                *(f"cat /proc/sys/{k.replace('.', '/')}" for k in SYSCTLS),
                f"cat {sysctl_file} 2>/dev/null; echo @",
                f"cat {d}/motd 2>/dev/null; echo @",
                f"grep -cxF {shlex.quote(LINE)} {d}/hosts.conf 2>/dev/null; true",
            ]
        )
        state = str((await conn.run(read)).stdout or "")
        values, rest = state.split("\n", len(SYSCTLS))[: len(SYSCTLS)], state.split("\n", len(SYSCTLS))[-1]
        persisted, motd, has_line = rest.split("@\n")
        wanted = "".join(f"{k} = {v}\n" for k, v in SYSCTLS.items())
        if list(SYSCTLS.values()) == values and persisted == wanted and motd == CONTENT and has_line.strip() == "1":
            return False
        line = shlex.quote(LINE)
        change = "; ".join(
            [
                *(f"echo {v} > /proc/sys/{k.replace('.', '/')}" for k, v in SYSCTLS.items()),
                f"printf %s {shlex.quote(wanted)} > {sysctl_file}",
                f"printf %s {shlex.quote(CONTENT)} > {d}/motd",
                f"grep -qxF {line} {d}/hosts.conf 2>/dev/null || echo {line} >> {d}/hosts.conf",
            ]
        )
        await conn.run(change, check=True)
        return True


async def main(path: str) -> None:
    inv = json.loads(Path(path).read_text())  # noqa: ASYNC240 - read once, before any connection
    changed = await asyncio.gather(*(one(h, inv["key"], inv["known_hosts"]) for h in inv["hosts"]))
    print(f"floor: {len(changed)} hosts, {sum(changed)} changed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
