//! tokio's `examples/echo.rs` (a per-connection `vec![0; 1024]` buffer, read
//! then `write_all`, one task per connection), extended only as the bench peers
//! require: the common CLI `tcp HOST PORT | unix PATH`, a listen backlog of
//! 4096, TCP_NODELAY on accepted sockets, one "listening" line on stdout, and
//! a clean exit on SIGINT/SIGTERM. Worker threads: TOKIO_WORKER_THREADS.

#![warn(rust_2018_idioms)]

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, UnixListener, UnixSocket};
use tokio::signal::unix::{signal, SignalKind};

use std::env;
use std::error::Error;
use std::net::ToSocketAddrs;
use std::os::unix::fs::FileTypeExt;

const BACKLOG: u32 = 4096;

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, String),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = env::args().skip(1).collect();
    let listener = match args.as_slice() {
        [mode, host, port] if mode == "tcp" => {
            let addr = (host.as_str(), port.parse::<u16>()?)
                .to_socket_addrs()?
                .next()
                .ok_or("no address")?;
            let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            Listener::Tcp(socket.listen(BACKLOG)?)
        }
        [mode, path] if mode == "unix" => {
            if std::fs::symlink_metadata(path).map_or(false, |m| m.file_type().is_socket()) {
                std::fs::remove_file(path)?; // stale socket from an earlier run
            }
            let socket = UnixSocket::new_stream()?;
            socket.bind(path)?;
            Listener::Unix(socket.listen(BACKLOG)?, path.clone())
        }
        _ => {
            eprintln!("usage: tokio_echo tcp HOST PORT | tokio_echo unix PATH");
            std::process::exit(2);
        }
    };
    println!("listening"); // stdout is line-buffered: flushed at the newline

    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    tokio::select! {
        res = accept_loop(&listener) => res?,
        _ = sigterm.recv() => {}
        _ = sigint.recv() => {}
    }
    if let Listener::Unix(_, path) = &listener {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

async fn accept_loop(listener: &Listener) -> Result<(), Box<dyn Error>> {
    loop {
        match listener {
            Listener::Tcp(listener) => {
                let (socket, _) = listener.accept().await?;
                socket.set_nodelay(true)?;
                tokio::spawn(echo(socket));
            }
            Listener::Unix(listener, _) => {
                let (socket, _) = listener.accept().await?;
                tokio::spawn(echo(socket));
            }
        }
    }
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut socket: S) {
    let mut buf = vec![0; 1024];

    // In a loop, read data from the socket and write the data back.
    loop {
        let n = socket
            .read(&mut buf)
            .await
            .expect("failed to read data from socket");

        if n == 0 {
            return;
        }

        socket
            .write_all(&buf[0..n])
            .await
            .expect("failed to write data to socket");
    }
}
