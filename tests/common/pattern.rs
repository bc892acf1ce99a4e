//! Large verifiable payloads: a deterministic byte pattern and a round
//! trip that streams it through an echo and checks every byte back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use super::client::Io;

/// Deterministic bytes that differ at every position (8-byte words are a
/// hash of their index), so a dropped, repeated or reordered chunk shows up
/// as a mismatch at a precise offset. `fill` writes the bytes for
/// `[offset, offset + buf.len())`.
pub fn fill_pattern(offset: u64, buf: &mut [u8]) {
    fn word(i: u64) -> [u8; 8] {
        // splitmix64
        let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)).to_le_bytes()
    }
    let mut pos = 0;
    let mut at = offset;
    while pos < buf.len() {
        let w = word(at / 8);
        let skip = (at % 8) as usize;
        let n = (8 - skip).min(buf.len() - pos);
        buf[pos..pos + n].copy_from_slice(&w[skip..skip + n]);
        pos += n;
        at += n as u64;
    }
}

/// `len` pattern bytes from offset 0.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    fill_pattern(0, &mut v);
    v
}

/// Progress of a [`pattern_roundtrip`], readable while it runs.
#[derive(Default)]
pub struct Progress {
    pub sent: AtomicU64,
    pub received: AtomicU64,
}

impl Progress {
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

/// Streams `total` pattern bytes through `stream` from one task while
/// another reads and checks every echoed byte against the pattern, then
/// half-closes and expects EOF right after the last byte. Returns the
/// number of bytes verified; an error says where the echo went wrong.
pub async fn pattern_roundtrip(
    stream: Box<dyn Io>,
    total: u64,
    progress: Arc<Progress>,
) -> Result<u64, String> {
    pattern_roundtrip_gated(stream, total, progress, None).await
}

/// [`pattern_roundtrip`] whose upload stops after `gate.0` bytes until
/// `gate.1` fires, so a test can act while a transfer is certainly in
/// flight.
pub async fn pattern_roundtrip_gated(
    stream: Box<dyn Io>,
    total: u64,
    progress: Arc<Progress>,
    gate: Option<(u64, oneshot::Receiver<()>)>,
) -> Result<u64, String> {
    const CHUNK: usize = 256 * 1024;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let upload = {
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut buf = vec![0; CHUNK];
            let mut off = 0u64;
            let mut gate = gate;
            while off < total {
                if let Some((at, _)) = &gate {
                    if off >= *at {
                        let (_, open) = gate.take().expect("gate");
                        open.await.map_err(|_| "gate dropped".to_string())?;
                    }
                }
                let mut n = CHUNK.min((total - off) as usize);
                if let Some((at, _)) = &gate {
                    n = n.min((*at - off) as usize);
                }
                fill_pattern(off, &mut buf[..n]);
                wr.write_all(&buf[..n])
                    .await
                    .map_err(|e| format!("write at {off}: {e}"))?;
                off += n as u64;
                progress.sent.store(off, Ordering::Relaxed);
            }
            wr.shutdown()
                .await
                .map_err(|e| format!("half-close: {e}"))?;
            Ok::<_, String>(wr)
        })
    };
    let mut buf = vec![0; CHUNK];
    let mut want = vec![0; CHUNK];
    let mut off = 0u64;
    loop {
        let n = rd
            .read(&mut buf)
            .await
            .map_err(|e| format!("read at {off}: {e}"))?;
        if n == 0 {
            break;
        }
        if off + n as u64 > total {
            return Err(format!("{} bytes more than sent", off + n as u64 - total));
        }
        fill_pattern(off, &mut want[..n]);
        if buf[..n] != want[..n] {
            let i = (0..n).find(|&i| buf[i] != want[i]).unwrap_or(0);
            return Err(format!("echo differs at byte {}", off + i as u64));
        }
        off += n as u64;
        progress.received.store(off, Ordering::Relaxed);
    }
    // Keep the write half alive until EOF so the socket is not torn down.
    let _wr = upload.await.map_err(|e| format!("upload task: {e}"))??;
    if off != total {
        return Err(format!("truncated echo: EOF after {off} of {total} bytes"));
    }
    Ok(off)
}
