//! The asyncio tutorial's echo client, written with ricochet.
//!
//! Connect, send a message, read at most 1024 bytes back, print both, close:
//! `cargo run --example tutorial_client -- 'Coucou!' [ENDPOINT]`.

use ricochet::client::open_connection;
use ricochet::Endpoint;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let message = args.next().unwrap_or_else(|| "Coucou!".into());
    let endpoint: Endpoint = args
        .next()
        .unwrap_or_else(|| "tcp://localhost:1234".into())
        .parse()?;

    let mut conn = open_connection(&endpoint).await?;
    println!("Envoi du message : {message}");
    conn.write_all(message.as_bytes()).await?;

    let data = conn.read(1024).await?;
    println!("Message reçu : {}", String::from_utf8_lossy(&data));
    Ok(())
}
