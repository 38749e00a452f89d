//! The wall clock in one place: Unix milliseconds and seconds, and a [`Clock`] a component
//! can be given instead, so a test decides what time it is (as delta-rs's `with_clock`).
//! Imports nothing.

use std::time::{SystemTime, UNIX_EPOCH};

/// What time it is, in Unix milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

/// Unix milliseconds now (0 before 1970, which no clock here reads).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Unix seconds now.
pub fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
