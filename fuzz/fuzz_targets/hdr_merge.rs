//! `bench --merge`: any file contents either merge or give a clean error.
#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tempfile::NamedTempFile;

/// One file, rewritten for every input: creating files is slower than
/// merging them.
fn log() -> &'static NamedTempFile {
    static LOG: OnceLock<NamedTempFile> = OnceLock::new();
    LOG.get_or_init(|| NamedTempFile::new().expect("temp file"))
}

fuzz_target!(|data: &[u8]| {
    let path = log().path().to_owned();
    let mut file = std::fs::File::create(&path).expect("rewrite temp file");
    file.write_all(data).expect("write temp file");
    drop(file);
    // Ok or a `MergeError` are both fine; a panic is the bug.
    let _ = ricochet::bench::merge::merge_logs(&[path]);
});
