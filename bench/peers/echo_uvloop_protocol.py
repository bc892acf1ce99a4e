#!/usr/bin/env python3
"""uvloop echo server on a bare asyncio.Protocol, as in MagicStack's vmbench.

usage: echo_uvloop_protocol.py tcp HOST PORT
       echo_uvloop_protocol.py unix PATH

data_received() hands the bytes straight to transport.write(). The one
addition to vmbench's EchoProtocol is flow control: reading pauses while the
transport's write buffer is above its high-water mark, so a client that does
not read cannot grow server memory without bound. When the client half-closes,
eof_received() returns None and the transport closes after flushing.
"""

import asyncio
import os
import signal
import stat
import sys

import uvloop

BACKLOG = 4096


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport  # uvloop sets TCP_NODELAY on TCP transports itself

    def connection_lost(self, exc):
        self.transport = None

    def data_received(self, data):
        self.transport.write(data)

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()


async def serve(args: list[str]) -> None:
    loop = asyncio.get_running_loop()
    if len(args) == 3 and args[0] == "tcp":
        server = await loop.create_server(
            EchoProtocol, args[1], int(args[2]), backlog=BACKLOG, reuse_address=True
        )
    elif len(args) == 2 and args[0] == "unix":
        server = await loop.create_unix_server(EchoProtocol, args[1], backlog=BACKLOG)
    else:
        sys.exit(__doc__)

    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    print("listening", flush=True)
    await stop.wait()
    server.close()
    if args[0] == "unix":
        try:
            if stat.S_ISSOCK(os.lstat(args[1]).st_mode):
                os.unlink(args[1])
        except FileNotFoundError:
            pass


def main() -> None:
    if hasattr(uvloop, "run"):  # uvloop >= 0.18
        uvloop.run(serve(sys.argv[1:]))
    else:
        uvloop.install()
        asyncio.run(serve(sys.argv[1:]))


if __name__ == "__main__":
    main()
