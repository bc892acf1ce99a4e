#!/usr/bin/env python3
"""The asyncio tutorial's echo server (exemple n°6), in today's asyncio.

The handler is the tutorial's ``handle_echo`` with ``async def``/``await``
instead of ``@asyncio.coroutine``/``yield from``: read up to 1024 bytes,
print them, sleep (one second by default, as in the tutorial), write them
back, drain, close. It serves TCP (``asyncio.start_server``) or a Unix
socket (``asyncio.start_unix_server``) with the same handler.

Additions for ricochet's interop tests, none of which change the exchange:
the address comes from the command line (port 0 picks a free port), a
``listening on ENDPOINT`` line is printed (in ricochet's format, with the
real port) once connections are accepted, so tests wait on it instead of
sleeping, and SIGTERM stops the server cleanly like Ctrl-C does.

    tutorial_server.py [--sleep SECONDS] [HOST [PORT]]   # localhost 1234
    tutorial_server.py [--sleep SECONDS] --unix PATH
"""

import argparse
import asyncio
import os
import signal
import stat


async def handle_echo(reader, writer, sleep):
    data = await reader.read(1024)
    print("Message reçu :", data.decode(errors="replace"), flush=True)
    await asyncio.sleep(sleep)
    writer.write(data)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


def endpoint_of(sock):
    """The endpoint a socket listens on, written the way ricochet does."""
    addr = sock.getsockname()
    if isinstance(addr, str):
        return f"unix:{addr}"
    host, port = addr[0], addr[1]
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


async def echo_server(args):
    async def handler(reader, writer):
        await handle_echo(reader, writer, args.sleep)

    if args.unix:
        server = await asyncio.start_unix_server(handler, args.unix)
    else:
        server = await asyncio.start_server(handler, args.host, args.port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async with server:
        for sock in server.sockets:
            print("listening on", endpoint_of(sock), flush=True)
        await stop.wait()

    # Python 3.11 leaves the socket file behind; remove it if it is ours.
    if args.unix:
        try:
            if stat.S_ISSOCK(os.stat(args.unix).st_mode):
                os.unlink(args.unix)
        except FileNotFoundError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default="localhost")
    parser.add_argument("port", nargs="?", type=int, default=1234)
    parser.add_argument("--unix", metavar="PATH", help="serve a Unix socket instead of TCP")
    parser.add_argument(
        "--sleep",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="pause before answering (default: 1, like the tutorial)",
    )
    asyncio.run(echo_server(parser.parse_args()))


if __name__ == "__main__":
    main()
