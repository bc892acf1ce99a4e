#!/usr/bin/env node
// Node `net` echo server.
//
//   usage: node echo_node.js tcp HOST PORT | node echo_node.js unix PATH
//
// socket.pipe(socket) echoes with backpressure (reading pauses while the write
// side is above its high-water mark) and, when the client half-closes, ends
// the socket after the remaining data is flushed.
'use strict';

const fs = require('node:fs');
const net = require('node:net');

const BACKLOG = 4096;
const [mode, ...rest] = process.argv.slice(2);

let listenOptions;
if (mode === 'tcp' && rest.length === 2) {
  listenOptions = { host: rest[0], port: Number(rest[1]), backlog: BACKLOG };
} else if (mode === 'unix' && rest.length === 1) {
  listenOptions = { path: rest[0], backlog: BACKLOG };
  unlinkSocket(rest[0]); // stale socket from an earlier run
} else {
  console.error('usage: echo_node.js tcp HOST PORT | echo_node.js unix PATH');
  process.exit(2);
}

// noDelay sets TCP_NODELAY on accepted TCP sockets (no-op for unix sockets).
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy()); // e.g. ECONNRESET: just drop it
  socket.pipe(socket);
});

server.on('error', (err) => {
  console.error(`echo_node: ${err.message}`);
  process.exit(1);
});

server.listen(listenOptions, () => {
  process.stdout.write('listening\n');
});

function unlinkSocket(path) {
  try {
    if (fs.lstatSync(path).isSocket()) fs.unlinkSync(path);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
}

function shutdown() {
  server.close();
  if (mode === 'unix') unlinkSocket(rest[0]);
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
