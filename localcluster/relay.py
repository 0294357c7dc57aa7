"""`python -m localcluster.relay LISTEN_PORT NETNS TARGET_HOST TARGET_PORT`: the API server on 127.0.0.1.

Runs in the machine's own namespace and listens on 127.0.0.1 only; each connection is carried
to TARGET inside NETNS by a socket made in that namespace (setns for the socket() call). No
interface or route joins the two namespaces: only these byte streams cross.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from localcluster.netns import socket_in


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()


async def _serve(port: int, netns: str, host: str, target: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = socket_in(netns)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (host, target)), 10)
            up_reader, up_writer = await asyncio.open_connection(sock=sock)
        except (OSError, TimeoutError):
            sock.close()
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", port, reuse_address=True)
    print(f"relay: 127.0.0.1:{port} -> {netns} {host}:{target}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("usage: python -m localcluster.relay LISTEN_PORT NETNS TARGET_HOST TARGET_PORT", file=sys.stderr)
        return 2
    asyncio.run(_serve(int(argv[0]), argv[1], argv[2], int(argv[3])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
