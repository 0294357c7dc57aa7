"""The SSH connector and the executor against an in-process asyncssh server on 127.0.0.1 (fast cases)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hosts.connectors import ConnectThrottle, HostError, LocalConnector, SSHConnector
from hosts.connectors.base import stdin_to_file_command
from hosts.connectors.quiet_asyncssh import asyncssh
from hosts.executor import apply
from hosts.inventory import Host, inventory_from_data
from hosts.operations import File, Line, Shell


@dataclass
class Server:
    """Runs each command as a local shell command and counts connections and sessions."""

    port: int = 0
    connections: int = 0
    active: int = 0
    peak: int = 0
    pids: list[int] = field(default_factory=list)

    async def handle(self, process: asyncssh.SSHServerProcess[str]) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)
        proc = await asyncio.create_subprocess_shell(
            process.command or "",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        self.pids.append(proc.pid)

        async def feed() -> None:
            assert proc.stdin is not None
            proc.stdin.write((await process.stdin.read()).encode())
            proc.stdin.close()

        feeder = asyncio.ensure_future(feed())
        assert proc.stdout is not None and proc.stderr is not None
        io = asyncio.ensure_future(asyncio.gather(proc.stdout.read(), proc.stderr.read(), proc.wait()))
        closed = asyncio.ensure_future(process.wait_closed())
        try:
            await asyncio.wait({io, closed}, return_when=asyncio.FIRST_COMPLETED)
            if io.done():
                out, err, status = io.result()
                process.stdout.write(out.decode())
                process.stderr.write(err.decode())
                process.exit(status)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        finally:
            feeder.cancel()
            closed.cancel()
            io.cancel()
            self.active -= 1


@dataclass
class Lab:
    server: Server
    client_key: Path
    known_hosts: Path
    host_key: asyncssh.SSHKey

    def host(self, **settings: object) -> Host:
        entry = {
            "address": "127.0.0.1",
            "port": self.server.port,
            "user": "test",
            "key": str(self.client_key),
            "known_hosts": str(self.known_hosts),
            "connect_timeout": 5,
            **settings,
        }
        return inventory_from_data({"hosts": {"box": entry}}).hosts["box"]


@contextlib.asynccontextmanager
async def ssh_server(tmp_path: Path) -> AsyncIterator[Lab]:
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "client_key"
    client_key.write_private_key(str(key_file))
    server = Server()

    class Counting(asyncssh.SSHServer):
        def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
            server.connections += 1

    acceptor = await asyncssh.create_server(
        Counting,
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        authorized_client_keys=asyncssh.import_authorized_keys(client_key.export_public_key().decode()),
        process_factory=server.handle,
        sftp_factory=True,
    )
    server.port = acceptor.sockets[0].getsockname()[1]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{server.port} {host_key.export_public_key().decode()}")
    try:
        yield Lab(server, key_file, known, host_key)
    finally:
        acceptor.close()
        await acceptor.wait_closed()
        for pid in server.pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_one_connection_many_sessions_capped(tmp_path):
    async def scenario():
        async with ssh_server(tmp_path) as lab:
            conn = SSHConnector(lab.host(max_sessions=3))
            results = await asyncio.gather(*(conn.run(f"sleep 0.2; echo {i}") for i in range(9)))
            script = await conn.run_script("echo from-stdin; exit 5")
            await conn.close()
            return lab.server, results, script

    server, results, script = run(scenario())
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(9)]
    assert server.connections == 1
    assert server.peak == 3
    assert (script.exit_status, script.stdout) == (5, "from-stdin\n")


def test_unknown_host_key_is_refused(tmp_path):
    async def scenario():
        async with ssh_server(tmp_path) as lab:
            lab.known_hosts.write_text("")
            with pytest.raises(HostError) as info:
                await SSHConnector(lab.host()).connect()
            return lab, str(info.value)

    lab, message = run(scenario())
    assert message == (
        f"box: host key refused: 127.0.0.1:{lab.server.port} is not in {lab.known_hosts} (host_key_policy strict)"
    )


def test_changed_host_key_is_refused_with_a_clear_message(tmp_path):
    async def scenario():
        async with ssh_server(tmp_path) as lab:
            other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
            lab.known_hosts.write_text(f"[127.0.0.1]:{lab.server.port} {other}")
            for policy in ("strict", "accept-new"):
                with pytest.raises(HostError) as info:
                    await SSHConnector(lab.host(host_key_policy=policy)).connect()
                assert "does not match the one in" in str(info.value)
            return lab, str(info.value)

    lab, message = run(scenario())
    assert message.startswith(f"box: host key refused: the key of 127.0.0.1:{lab.server.port} does not match")


def test_accept_new_records_the_key(tmp_path):
    async def scenario():
        async with ssh_server(tmp_path) as lab:
            lab.known_hosts.unlink()
            conn = SSHConnector(lab.host(host_key_policy="accept-new"))
            assert (await conn.run("echo hi")).stdout == "hi\n"
            await conn.close()
            strict = SSHConnector(lab.host())
            await strict.connect()
            await strict.close()
            return lab

    lab = run(scenario())
    assert lab.known_hosts.read_text().startswith(f"[127.0.0.1]:{lab.server.port} ssh-ed25519 ")


def test_policy_off_skips_the_check(tmp_path):
    async def scenario():
        async with ssh_server(tmp_path) as lab:
            lab.known_hosts.write_text("")
            conn = SSHConnector(lab.host(host_key_policy="off"))
            out = (await conn.run("echo ok")).stdout
            await conn.close()
            return out

    assert run(scenario()) == "ok\n"


def test_wrong_client_key_is_refused(tmp_path):
    async def scenario():
        async with ssh_server(tmp_path) as lab:
            stranger = tmp_path / "stranger"
            asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(stranger))
            with pytest.raises(HostError) as info:
                await SSHConnector(lab.host(key=str(stranger))).connect()
            return lab.server.port, str(info.value)

    port, message = run(scenario())
    assert message == f"box: authentication refused for user test with key {tmp_path / 'stranger'} at 127.0.0.1:{port}"


def test_nothing_listening_is_one_line(tmp_path):
    async def scenario():
        async with ssh_server(tmp_path) as lab:
            port = lab.server.port
        with pytest.raises(HostError) as info:
            await SSHConnector(lab.host(port=port)).connect()
        return port, str(info.value)

    port, message = run(scenario())
    assert message == f"box: cannot connect to 127.0.0.1:{port}: Connect call failed ('127.0.0.1', {port})"


def test_hanging_command_is_cut_and_the_connection_lives_on(tmp_path):
    async def scenario():
        async with ssh_server(tmp_path) as lab:
            conn = SSHConnector(lab.host())
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            with pytest.raises(HostError) as info:
                await conn.run("sleep 30", time_limit=0.5)
            elapsed = loop.time() - t0
            after = await conn.run("echo still here")
            await conn.close()
            return str(info.value), elapsed, after.stdout

    message, elapsed, after = run(scenario())
    assert message == "box: command timed out after 0.5s: sleep 30"
    assert elapsed < 3
    assert after == "still here\n"


def test_dropped_handshakes_are_retried(tmp_path):
    """sshd past MaxStartups closes new connections at once: the connector tries again."""

    async def scenario():
        async with ssh_server(tmp_path) as lab:
            accepted = 0

            async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                nonlocal accepted
                accepted += 1
                if accepted <= 2:
                    writer.close()
                    return
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", lab.server.port)

                async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                    with contextlib.suppress(ConnectionError):
                        while data := await r.read(65536):
                            w.write(data)
                            await w.drain()
                    w.close()

                await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

            front = await asyncio.start_server(proxy, "127.0.0.1", 0)
            port = front.sockets[0].getsockname()[1]
            lab.known_hosts.write_text(f"[127.0.0.1]:{port} {lab.host_key.export_public_key().decode()}")
            conn = SSHConnector(lab.host(port=port), ConnectThrottle(per_server=2))
            out = (await conn.run("echo through")).stdout
            await conn.close()
            front.close()
            return accepted, out

    accepted, out = run(scenario())
    assert (accepted, out) == (3, "through\n")


def test_upload_over_sftp(tmp_path):
    async def scenario():
        async with ssh_server(tmp_path) as lab:
            conn = SSHConnector(lab.host())
            await conn.upload(b"\x00binary\n", str(tmp_path / "up.bin"), 0o600)
            await conn.close()

    run(scenario())
    assert (tmp_path / "up.bin").read_bytes() == b"\x00binary\n"
    assert (tmp_path / "up.bin").stat().st_mode & 0o777 == 0o600


def test_apply_over_ssh_idempotent_check_and_hang(tmp_path):
    async def scenario():
        async with ssh_server(tmp_path) as lab:
            inv = inventory_from_data(
                {"hosts": {"box": lab.host().model_dump(exclude={"name", "groups"}, mode="json")}}
            )
            big = "y" * (100 * 1024)
            plan = [
                File(path=str(tmp_path / "f"), content="hello\n"),
                File(path=str(tmp_path / "big"), content=big),
                Line(path=str(tmp_path / "l"), line="a = 1"),
            ]
            check = await apply(inv, plan, check=True)
            assert not (tmp_path / "f").exists()
            first = await apply(inv, plan)
            second = await apply(inv, plan)
            slow = inventory_from_data(
                {"hosts": {"box": lab.host(command_timeout=0.5).model_dump(exclude={"name", "groups"}, mode="json")}}
            )
            hang = await apply(slow, [Shell(run="sleep 30"), *plan])
            return lab.server, check, first, second, hang

    _, check, first, second, hang = run(scenario())
    assert check.changed == 3 and first.changed == 3 and second.changed == 0
    assert (tmp_path / "f").read_text() == "hello\n" and len((tmp_path / "big").read_text()) == 100 * 1024
    assert hang.hosts[0].results[0].reason == "command timed out after 0.5s: sh -s"
    assert [r.status for r in hang.hosts[0].results] == ["failed"] * 4


def test_strict_without_known_hosts_file_says_so(tmp_path):
    async def scenario():
        async with ssh_server(tmp_path) as lab:
            lab.known_hosts.unlink()
            with pytest.raises(HostError) as info:
                await SSHConnector(lab.host()).connect()
            return lab, str(info.value)

    lab, message = run(scenario())
    assert message == f"box: host key cannot be checked: no file {lab.known_hosts} (policy strict)"


def planted_link(tmp_path):
    """`up.bin` a link to a file of someone else's: an upload must replace the link, never write through it."""
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    (tmp_path / "up.bin").symlink_to(victim)
    return tmp_path / "up.bin", victim


def assert_replaced(target, victim):
    assert victim.read_text() == "untouched\n"
    assert not target.is_symlink() and target.read_bytes() == b"secret\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert not [p.name for p in target.parent.iterdir() if ".meshperf-" in p.name]  # no staging file left


def test_an_upload_over_sftp_replaces_a_link_at_its_path(tmp_path):
    """Issue 23 (4), for files too large to inline: a new random file, private until renamed into place."""
    target, victim = planted_link(tmp_path)

    async def scenario():
        async with ssh_server(tmp_path) as lab:
            conn = SSHConnector(lab.host())
            await conn.upload(b"secret\n", str(target), 0o640)
            await conn.close()

    run(scenario())
    assert_replaced(target, victim)


def test_a_local_upload_replaces_a_link_at_its_path(tmp_path):
    target, victim = planted_link(tmp_path)
    run(LocalConnector("me").upload(b"secret\n", str(target), 0o640))
    assert_replaced(target, victim)


def test_the_shell_upload_of_kind_nodes_and_sudo_replaces_a_link_at_its_path(tmp_path):
    """`docker exec ... sh -c` and `sudo -n sh -c` upload with this command, the content on stdin."""
    target, victim = planted_link(tmp_path)
    command = stdin_to_file_command(str(target), 0o640)
    subprocess.run(["sh", "-c", f"umask 022; {command}"], input=b"secret\n", check=True, timeout=30)
    assert_replaced(target, victim)
