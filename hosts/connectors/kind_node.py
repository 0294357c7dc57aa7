"""A kind node container as a host: commands go through its Docker host's connector.

Routes and sysctls of kind nodes live inside the node containers; `docker exec` on the host
that runs them reaches them over that host's one connection.
"""

from __future__ import annotations

import shlex

from hosts.connectors.base import CommandResult, Connector, HostError, stdin_to_file_command


class KindNodeConnector(Connector):
    def __init__(self, name: str, node: str, parent: Connector) -> None:
        self.name = name
        self.node = node
        self.parent = parent

    def wrap(self, command: str, *, stdin: bool) -> str:
        """The docker host's command that runs `command` inside the node (pure, tested)."""
        flags = "-i " if stdin else ""
        return f"docker exec {flags}{shlex.quote(self.node)} sh -c {shlex.quote(command)}"

    async def connect(self) -> None:
        await self.parent.connect()

    async def run(self, command: str, *, input: str | None = None, time_limit: float | None = None) -> CommandResult:
        try:
            return await self.parent.run(
                self.wrap(command, stdin=input is not None), input=input, time_limit=time_limit
            )
        except HostError as exc:
            raise HostError(self.name, f"via {exc.host}: {exc.reason}") from None

    async def upload(self, data: bytes, path: str, mode: int = 0o644) -> None:
        result = await self.run(stdin_to_file_command(path, mode), input=data.decode())
        if not result.ok:
            raise HostError(self.name, f"upload to {path} failed: {result.stderr.strip() or result.exit_status}")

    async def close(self) -> None:
        # The parent is shared with other nodes and closed by its owner.
        return None
