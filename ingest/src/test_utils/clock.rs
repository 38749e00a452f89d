//! [`PausedClock`]: Unix milliseconds that follow tokio's clock, so decisions made on the
//! wall clock (when a hole is due) move with a paused test clock.

use std::time::Duration;

use chainlake_wire::clock::Clock;

/// A clock that starts at a fixed Unix time and advances with tokio's (paused) time.
#[derive(Debug, Clone, Copy)]
pub struct PausedClock {
    start: tokio::time::Instant,
    start_ms: i64,
}

impl Default for PausedClock {
    fn default() -> Self {
        PausedClock { start: tokio::time::Instant::now(), start_ms: 1_700_000_000_000 }
    }
}

impl Clock for PausedClock {
    fn now_ms(&self) -> i64 {
        self.start_ms + i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX)
    }
}

/// Polls `check` on tokio's paused clock, advancing it 10 ms between polls, until it yields a
/// value (at most 10,000 polls).
pub async fn eventually_paused<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..10_000 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not within 10,000 polls")
}
