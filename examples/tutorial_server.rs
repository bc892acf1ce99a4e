//! The asyncio tutorial's echo server, written with ricochet.
//!
//! Read up to 1024 bytes, print them, wait a second, echo, close; every
//! client in its own task; Ctrl-C stops it cleanly. The handler does not
//! know its transport: `cargo run --example tutorial_server unix:/tmp/echo.sock`
//! serves the very same code over a Unix socket.

use std::time::Duration;

use ricochet::{Connection, Endpoint, Handler, Server};

struct HandleEcho;

impl Handler for HandleEcho {
    async fn handle(&self, conn: &mut Connection) -> std::io::Result<()> {
        let data = conn.read(1024).await?;
        println!("Message reçu : {}", String::from_utf8_lossy(&data));
        tokio::time::sleep(Duration::from_secs(1)).await;
        conn.write_all(&data).await?;
        conn.drain().await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint: Endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tcp://localhost:1234".into())
        .parse()?;
    let server = Server::bind(&endpoint).await?;
    for at in server.local_endpoints()? {
        println!("listening on {at}");
    }
    server
        .serve(HandleEcho, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
