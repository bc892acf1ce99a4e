//! The reference model of line mode, shared by the property tests and the
//! `line_mode` fuzz target: the contract any implementation must meet,
//! however it reads and writes.
//!
//! Complete lines (ending in `\n`) are echoed in order while their content
//! (newline excluded) is at most `max_line` bytes. The first longer line,
//! or a final unterminated tail longer than `max_line`, gets exactly
//! `error: line longer than {max_line} bytes; closing\n` and nothing after
//! it. A final tail of at most `max_line` bytes is echoed at end of stream.

/// What line mode must send back for `input` with `max_line`.
pub fn expected_echo(input: &[u8], max_line: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    loop {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) if i <= max_line => {
                out.extend_from_slice(&rest[..=i]);
                rest = &rest[i + 1..];
            }
            None if rest.len() <= max_line => {
                out.extend_from_slice(rest);
                return out;
            }
            Some(_) | None => {
                out.extend_from_slice(too_long(max_line).as_bytes());
                return out;
            }
        }
    }
}

/// The error line for an over-long line.
pub fn too_long(max_line: usize) -> String {
    format!("error: line longer than {max_line} bytes; closing\n")
}
