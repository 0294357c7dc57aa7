"""SSH hosts over asyncssh: one connection per host, its sessions capped below MaxSessions.

sshd drops new unauthenticated connections at random once MaxStartups (10 by default) are
in flight, so handshakes to one server are throttled and a dropped one is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import shlex
from collections import defaultdict
from pathlib import Path

from hosts.connectors.base import CommandResult, Connector, HostError, short, staging_name
from hosts.connectors.quiet_asyncssh import asyncssh
from hosts.inventory import Host, HostKeyPolicy

CONNECT_ATTEMPTS = 4
RETRY_BASE_S = 0.2


class ConnectThrottle:
    """Caps handshakes in flight per server (below MaxStartups) and in all."""

    def __init__(self, per_server: int = 8, total: int = 64) -> None:
        self.per_server = per_server
        self.total = asyncio.Semaphore(total)
        self.servers: defaultdict[tuple[str, int], asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.per_server)
        )

    def server(self, address: str, port: int) -> asyncio.Semaphore:
        return self.servers[(address, port)]


class SSHConnector(Connector):
    def __init__(self, host: Host, throttle: ConnectThrottle | None = None) -> None:
        self.name = host.name
        self.host = host
        self.throttle = throttle or ConnectThrottle()
        self.sessions = asyncio.Semaphore(host.max_sessions)
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()

    @property
    def target(self) -> str:
        return f"{self.host.address}:{self.host.port}"

    def known_hosts_path(self) -> Path:
        return (self.host.known_hosts or Path("~/.ssh/known_hosts")).expanduser()

    async def connect(self) -> None:
        async with self._lock:
            if self._conn is None:
                self._conn = await self._open()

    async def _open(self) -> asyncssh.SSHClientConnection:
        error = ""
        for attempt in range(CONNECT_ATTEMPTS):
            if attempt:
                await asyncio.sleep(RETRY_BASE_S * 2**attempt * (0.5 + random.random()))
            async with self.throttle.server(self.host.address, self.host.port), self.throttle.total:
                try:
                    return await asyncio.wait_for(self._handshake(), self.host.connect_timeout)
                except asyncssh.HostKeyNotVerifiable:
                    raise HostError(self.name, self._host_key_reason()) from None
                except asyncssh.PermissionDenied:
                    who = f"user {self.host.user or 'default'}" + (
                        f" with key {self.host.key}" if self.host.key else ""
                    )
                    raise HostError(self.name, f"authentication refused for {who} at {self.target}") from None
                except TimeoutError:
                    raise HostError(
                        self.name, f"no SSH answer from {self.target} within {self.host.connect_timeout:g}s"
                    ) from None
                except (asyncssh.ConnectionLost, ConnectionResetError, BrokenPipeError) as exc:
                    error = str(exc) or type(exc).__name__  # dropped during the handshake: MaxStartups, retry
                except asyncssh.DisconnectError as exc:
                    raise HostError(self.name, f"SSH to {self.target} refused: {exc.reason}") from None
                except OSError as exc:
                    raise HostError(self.name, f"cannot connect to {self.target}: {exc.strerror or exc}") from None
        raise HostError(self.name, f"SSH to {self.target} dropped {CONNECT_ATTEMPTS} times: {error}")

    async def _handshake(self) -> asyncssh.SSHClientConnection:
        policy = self.host.host_key_policy
        known: str | None = str(self.known_hosts_path())
        record = False
        if policy is HostKeyPolicy.OFF:
            known = None
        elif policy is HostKeyPolicy.ACCEPT_NEW and not self._known_keys():
            known, record = None, True
        elif not self.known_hosts_path().exists():
            raise HostError(self.name, f"host key cannot be checked: no file {self.known_hosts_path()} (policy strict)")
        conn = await asyncssh.connect(
            self.host.address,
            self.host.port,
            username=self.host.user,
            client_keys=[str(self.host.key.expanduser())] if self.host.key else (),
            known_hosts=known,
            config=None,
            agent_path=None if self.host.key else (),
            keepalive_interval=30,
        )
        if record:
            self._record_host_key(conn)
        return conn

    def _known_keys(self) -> bool:
        path = self.known_hosts_path()
        if not path.exists():
            return False
        keys = asyncssh.match_known_hosts(str(path), self.host.address, self.host.address, self.host.port)
        return bool(keys[0] or keys[1])

    def _record_host_key(self, conn: asyncssh.SSHClientConnection) -> None:
        key = conn.get_server_host_key()
        if key is None:
            return
        name = self.host.address if self.host.port == 22 else f"[{self.host.address}]:{self.host.port}"
        path = self.known_hosts_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(f"{name} {key.export_public_key('openssh').decode().strip()}\n")

    def _host_key_reason(self) -> str:
        path = self.known_hosts_path()
        if self._known_keys():
            return (
                f"host key refused: the key of {self.target} does not match the one in {path} "
                "(the host was rebuilt, or someone is in between)"
            )
        return f"host key refused: {self.target} is not in {path} (host_key_policy {self.host.host_key_policy})"

    def _wrap(self, command: str) -> str:
        return f"sudo -n sh -c {shlex.quote(command)}" if self.host.become else command

    async def run(self, command: str, *, input: str | None = None, time_limit: float | None = None) -> CommandResult:
        await self.connect()
        assert self._conn is not None
        limit = time_limit or self.host.command_timeout
        async with self.sessions:
            try:
                stdin = asyncssh.PIPE if input is not None else asyncssh.DEVNULL
                proc = await self._conn.create_process(self._wrap(command), input=input, stdin=stdin)
            except (asyncssh.Error, OSError) as exc:
                raise HostError(self.name, f"cannot start a session: {exc}") from None
            try:
                done = await proc.wait(timeout=limit)
            except asyncssh.TimeoutError:
                proc.kill()  # a signal request; sshd passes it on to the command
                proc.close()
                raise HostError(self.name, f"command timed out after {limit:g}s: {short(command)}") from None
            except (asyncssh.Error, OSError) as exc:
                raise HostError(self.name, f"connection lost while running {short(command)}: {exc}") from None
        status = done.exit_status if done.exit_status is not None else 128 + 9
        return CommandResult(status, str(done.stdout or ""), str(done.stderr or ""))

    async def upload(self, data: bytes, path: str, mode: int = 0o644) -> None:
        await self.connect()
        assert self._conn is not None
        # A new file of a random name ("x": never an existing one or a planted link), owner-only until
        # written and given its mode, then renamed over `path` (a link there is replaced, not followed).
        target = f"/tmp/.meshperf-upload-{secrets.token_hex(8)}" if self.host.become else staging_name(path)
        async with self.sessions:
            try:
                async with self._conn.start_sftp_client() as sftp:
                    try:
                        async with sftp.open(target, "xb", attrs=asyncssh.SFTPAttrs(permissions=0o600)) as f:
                            await f.write(data)
                        await sftp.chmod(target, mode)
                        if not self.host.become:
                            await sftp.posix_rename(target, path)
                    except BaseException:
                        with contextlib.suppress(asyncssh.Error, OSError):
                            await sftp.remove(target)
                        raise
            except (asyncssh.Error, OSError) as exc:
                raise HostError(self.name, f"upload to {path} failed: {exc}") from None
        if self.host.become:
            moved = await self.run(f"mv {shlex.quote(target)} {shlex.quote(path)}")
            if not moved.ok:
                raise HostError(self.name, f"upload to {path} failed: {moved.stderr.strip()}")

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            await self._conn.wait_closed()
            self._conn = None
