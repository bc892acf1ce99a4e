//! `ricochet serve` over real sockets: endpoints, the three modes, limits,
//! shutdown, Unix socket files, command-line errors, and the library's
//! `Server` API that the binary is built on. One test binary, one module
//! per topic.

#[path = "../common/mod.rs"]
mod common;

mod cli_errors;
mod endpoints;
mod library;
mod limits;
mod line_mode;
mod logging;
mod once_mode;
mod shutdown;
mod stream_mode;
mod unix_files;
