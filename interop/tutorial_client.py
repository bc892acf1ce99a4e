#!/usr/bin/env python3
"""The asyncio tutorial's echo client (exemple n°6), in today's asyncio.

The tutorial's ``echo_client`` with ``async def``/``await`` instead of
``@asyncio.coroutine``/``yield from``: connect, write the message, read up
to 1024 bytes, print both, close. It connects over TCP
(``asyncio.open_connection``) or to a Unix socket
(``asyncio.open_unix_connection``); the exchange is the same.

    tutorial_client.py [--host HOST] [--port PORT] [MESSAGE]   # localhost 1234
    tutorial_client.py --unix PATH [MESSAGE]
"""

import argparse
import asyncio


async def echo_client(message, host="localhost", port=1234, unix=None):
    if unix:
        reader, writer = await asyncio.open_unix_connection(unix)
    else:
        reader, writer = await asyncio.open_connection(host, port)

    print("Envoi du message :", message, flush=True)
    writer.write(message.encode())
    await writer.drain()

    data = await reader.read(1024)
    print("Message reçu :", data.decode(), flush=True)

    writer.close()
    await writer.wait_closed()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("message", nargs="?", default="Hello World!")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=1234)
    parser.add_argument("--unix", metavar="PATH", help="connect to a Unix socket instead of TCP")
    args = parser.parse_args()
    asyncio.run(echo_client(args.message, args.host, args.port, args.unix))


if __name__ == "__main__":
    main()
