//! The fuzz harness, shared by the `cargo fuzz` target and the stable test
//! (`tests/text_fuzz.rs` includes `harness.rs` directly).

#[path = "harness.rs"]
mod harness;

pub use harness::{any_one, text_one};
