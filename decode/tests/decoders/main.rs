//! The decoders on their own, no service: bad input kept and flagged (proptest), and recorded
//! mainnet logs and calls decoded to the words they carry. One test binary; each file a family.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod bad_input;
mod mainnet;
