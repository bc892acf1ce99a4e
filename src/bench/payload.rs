//! What the load generator sends: messages that any echo server can echo,
//! line-based ones included.
//!
//! Every message ends with `\n` and has no other newline, like vmbench's
//! `b'x' * (size - 1) + b'\n'`, so servers that echo line by line see one
//! line per message. A connection's messages are built once, laid out back
//! to back as a *batch* of `pipeline` messages, and reused for the whole run:
//! sending is one `write` of a slice, and verifying is a slice comparison at
//! the right offset. Nothing is allocated per message.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::echo::Sent;

/// What message bytes look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadKind {
    /// `x` repeated, then `\n` (vmbench's message): every connection
    /// shares one buffer.
    #[default]
    Fixed,
    /// Random printable ASCII, then `\n`; different for every message of
    /// every connection, so an echo from the wrong connection or a stale
    /// buffer is caught by verification.
    Random,
}

impl PayloadKind {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            PayloadKind::Fixed => "fixed",
            PayloadKind::Random => "random",
        }
    }
}

impl fmt::Display for PayloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PayloadKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fixed" => Ok(PayloadKind::Fixed),
            "random" => Ok(PayloadKind::Random),
            _ => Err(format!("unknown payload '{s}': expected fixed or random")),
        }
    }
}

/// One connection's messages: `pipeline` messages of `size` bytes, back to
/// back.
#[derive(Debug, Clone)]
pub(crate) struct Payload {
    batch: Arc<[u8]>,
    size: usize,
    kind: PayloadKind,
}

impl Payload {
    /// Builds the messages; `seed` varies random payloads between
    /// connections. `size` and `pipeline` must be at least 1.
    pub(crate) fn new(kind: PayloadKind, size: usize, pipeline: usize, seed: u64) -> Self {
        assert!(size > 0 && pipeline > 0, "size and pipeline are at least 1");
        let mut batch = vec![b'x'; size * pipeline];
        if kind == PayloadKind::Random {
            let mut rng = SplitMix64(seed ^ 0x5851_f42d_4c95_7f2d);
            for b in batch.iter_mut() {
                // Printable ASCII without newline: 0x21..=0x7e.
                *b = 0x21 + (rng.next() % 94) as u8;
            }
        }
        for message in batch.chunks_mut(size) {
            message[size - 1] = b'\n';
        }
        Payload {
            batch: batch.into(),
            size,
            kind,
        }
    }

    /// All `pipeline` messages, back to back.
    pub(crate) fn batch(&self) -> &[u8] {
        &self.batch
    }

    /// Message `i` of the batch (`i` modulo the pipeline depth).
    pub(crate) fn message(&self, i: usize) -> &[u8] {
        let count = self.batch.len() / self.size;
        let start = (i % count) * self.size;
        &self.batch[start..start + self.size]
    }

    /// Bytes per message.
    pub(crate) fn size(&self) -> usize {
        self.size
    }
}

/// The echo of a connection's stream of batches, sent back to back: stream
/// offsets wrap at the batch length.
impl Sent for Payload {
    fn matches(&self, offset: u64, chunk: &[u8]) -> bool {
        let offset = offset as usize;
        match self.kind {
            // One pass over the received bytes only: about twice as fast as
            // comparing with the batch, which matters at 100 KiB messages.
            PayloadKind::Fixed => {
                let mut bad = 0u8;
                let mut pos = offset % self.size;
                let mut rest = chunk;
                while !rest.is_empty() {
                    let run = (self.size - 1 - pos).min(rest.len());
                    // OR of XORs instead of an early exit: it vectorises.
                    bad |= rest[..run].iter().fold(0, |acc, &b| acc | (b ^ b'x'));
                    rest = &rest[run..];
                    if let Some((&newline, after)) = rest.split_first() {
                        bad |= newline ^ b'\n';
                        rest = after;
                    }
                    pos = 0;
                }
                bad == 0
            }
            PayloadKind::Random => {
                let mut at = offset % self.batch.len();
                let mut rest = chunk;
                while !rest.is_empty() {
                    let sent = &self.batch[at..];
                    let m = rest.len().min(sent.len());
                    if rest[..m] != sent[..m] {
                        return false;
                    }
                    rest = &rest[m..];
                    at = 0;
                }
                true
            }
        }
    }

    fn sent_at(&self, offset: u64, len: usize) -> Cow<'_, [u8]> {
        let at = (offset % self.batch.len() as u64) as usize;
        Cow::Owned(
            self.batch
                .iter()
                .cycle()
                .skip(at)
                .take(len)
                .copied()
                .collect(),
        )
    }
}

/// A tiny, fast, seedable generator (Vigna's SplitMix64), for payload
/// bytes and the comparison's bootstrap: reproducible, not for anything
/// secret.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_messages_back_to_back() {
        let p = Payload::new(PayloadKind::Fixed, 4, 2, 0);
        assert_eq!(p.batch(), b"xxx\nxxx\n");
        assert_eq!(p.message(1), b"xxx\n");
        let r = Payload::new(PayloadKind::Random, 3, 2, 9);
        let stream: Vec<u8> = r.batch().iter().chain(r.batch()).copied().collect();
        assert!(r.matches(4, &stream[4..9]));
        assert!(!r.matches(3, &stream[4..9]));
        assert_eq!(&*r.sent_at(4, 5), &stream[4..9]);
        let f = Payload::new(PayloadKind::Fixed, 3, 1, 0);
        assert!(f.matches(1, b"x\nxx\nx") && !f.matches(0, b"x\nxx\nx"));
    }

    #[test]
    fn messages_are_lines() {
        for kind in [PayloadKind::Fixed, PayloadKind::Random] {
            for size in [1, 2, 100] {
                let p = Payload::new(kind, size, 3, 7);
                assert_eq!(p.batch().len(), size * 3);
                for i in 0..3 {
                    let m = p.message(i);
                    assert_eq!(m.len(), size);
                    assert_eq!(m.last(), Some(&b'\n'));
                    assert_eq!(m.iter().filter(|&&b| b == b'\n').count(), 1);
                }
            }
        }
        assert_eq!(Payload::new(PayloadKind::Fixed, 1, 1, 0).batch(), b"\n");
    }

    #[test]
    fn matches_agrees_with_plain_comparison() {
        for kind in [PayloadKind::Fixed, PayloadKind::Random] {
            for (size, pipeline) in [(1, 1), (2, 3), (7, 2), (64, 1)] {
                let p = Payload::new(kind, size, pipeline, 3);
                let stream: Vec<u8> = p.batch().repeat(3);
                for start in 0..p.batch().len() {
                    for len in [0, 1, size, size + 1, 2 * p.batch().len()] {
                        let chunk = &stream[start..start + len];
                        assert!(
                            p.matches(start as u64, chunk),
                            "{kind} {size} {start} {len}"
                        );
                        if len > 0 {
                            let mut bad = chunk.to_vec();
                            bad[len / 2] ^= 1;
                            assert!(
                                !p.matches(start as u64, &bad),
                                "{kind} {size} {start} {len}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn random_payloads_differ_by_seed_and_message() {
        let a = Payload::new(PayloadKind::Random, 64, 2, 1);
        let b = Payload::new(PayloadKind::Random, 64, 2, 2);
        assert_ne!(a.batch(), b.batch());
        assert_ne!(a.message(0), a.message(1));
    }
}
