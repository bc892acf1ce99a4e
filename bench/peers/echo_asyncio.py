#!/usr/bin/env python3
"""The asyncio streams echo server from the Python tutorial, modernised.

usage: echo_asyncio.py [--uvloop] tcp HOST PORT
       echo_asyncio.py [--uvloop] unix PATH

Each connection reads up to 64 KiB, writes it back and awaits drain()
(backpressure), until the client half-closes; then it closes. --uvloop runs
the same code on uvloop's event loop.
"""

import asyncio
import os
import signal
import stat
import sys

BACKLOG = 4096


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # asyncio (and uvloop) set TCP_NODELAY on TCP transports by default.
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve(args: list[str]) -> None:
    if len(args) == 3 and args[0] == "tcp":
        server = await asyncio.start_server(
            handle, args[1], int(args[2]), backlog=BACKLOG, reuse_address=True
        )
    elif len(args) == 2 and args[0] == "unix":
        server = await asyncio.start_unix_server(handle, args[1], backlog=BACKLOG)
    else:
        sys.exit(__doc__)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    print("listening", flush=True)
    await stop.wait()
    # No wait_closed(): since Python 3.12 it also waits for open connections.
    # asyncio.run() / uvloop.run() cancel the remaining handlers on return.
    server.close()
    if args[0] == "unix":
        unlink_socket(args[1])


def unlink_socket(path: str) -> None:
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--uvloop"]:
        import uvloop

        if hasattr(uvloop, "run"):  # uvloop >= 0.18
            uvloop.run(serve(args[1:]))
        else:
            uvloop.install()
            asyncio.run(serve(args[1:]))
    else:
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
