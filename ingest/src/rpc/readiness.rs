//! When each dependency of this process last answered, for `/readyz` (served by the binary
//! beside `/metrics`). The node is marked by the RPC source on every answer (never probed: a
//! probe would spend the API key's quota outside its lease); Kafka, Redis and the lake are
//! marked by the binary's probes. Reads and writes one process-wide table, nothing else.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A service a long-running command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    Node,
    Kafka,
    Redis,
    Lake,
}

impl Dependency {
    pub const ALL: [Dependency; 4] =
        [Dependency::Node, Dependency::Kafka, Dependency::Redis, Dependency::Lake];

    /// The metric label and `/readyz` key.
    pub fn label(self) -> &'static str {
        match self {
            Dependency::Node => "node",
            Dependency::Kafka => "kafka",
            Dependency::Redis => "redis",
            Dependency::Lake => "lake",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Default)]
struct Seen {
    answered_at: Option<Instant>,
    /// The last failure since the last answer (cleared by an answer).
    error: Option<String>,
}

static TABLE: Mutex<[Option<Seen>; 4]> = Mutex::new([None, None, None, None]);

fn update(dep: Dependency, f: impl FnOnce(&mut Seen)) {
    // A poisoned lock only means a panic elsewhere mid-update; the table stays usable.
    let mut table = TABLE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    f(table[dep.index()].get_or_insert_with(Seen::default));
}

/// `dep` answered just now.
pub fn answered(dep: Dependency) {
    update(dep, |s| {
        s.answered_at = Some(Instant::now());
        s.error = None;
    });
}

/// `dep` failed just now, for `reason` (no secret: callers pass redacted text).
pub fn failed(dep: Dependency, reason: impl Into<String>) {
    let reason = reason.into();
    update(dep, |s| s.error = Some(reason));
}

/// One dependency's state in a [`Report`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DependencyState {
    pub dependency: &'static str,
    pub ready: bool,
    /// Milliseconds since it last answered (none: never).
    pub answered_ms_ago: Option<u64>,
    pub error: Option<String>,
}

/// Whether every dependency of a command answered within the window.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub ready: bool,
    pub dependencies: Vec<DependencyState>,
}

/// The report for `deps`: each is ready when it answered within `within` of `now` and has not
/// failed since.
pub fn report(deps: &[Dependency], within: Duration, now: Instant) -> Report {
    let table = TABLE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let dependencies: Vec<DependencyState> = deps
        .iter()
        .map(|&dep| {
            let seen = table[dep.index()].clone().unwrap_or_default();
            let age = seen.answered_at.map(|at| now.saturating_duration_since(at));
            DependencyState {
                dependency: dep.label(),
                // The latest word wins: a failure since the last answer is not ready.
                ready: seen.error.is_none() && age.is_some_and(|a| a <= within),
                answered_ms_ago: age.map(|a| u64::try_from(a.as_millis()).unwrap_or(u64::MAX)),
                error: seen.error,
            }
        })
        .collect();
    Report { ready: dependencies.iter().all(|d| d.ready), dependencies }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the table is process-wide, and unit tests of a crate share a process.
    #[test]
    fn a_dependency_is_ready_within_the_window_of_its_last_answer() {
        let within = Duration::from_secs(30);
        let none = report(&[Dependency::Lake], within, Instant::now());
        assert!(!none.ready && none.dependencies[0].answered_ms_ago.is_none());

        answered(Dependency::Lake);
        failed(Dependency::Lake, "connection refused");
        let r = report(&[Dependency::Lake], within, Instant::now());
        assert!(!r.ready, "a failure after the last answer is not ready: {r:?}");
        assert_eq!(r.dependencies[0].error.as_deref(), Some("connection refused"));

        answered(Dependency::Lake);
        let later = Instant::now() + Duration::from_secs(31);
        assert!(!report(&[Dependency::Lake], within, later).ready, "an answer older than the window");
        let r = report(&[Dependency::Lake], within, Instant::now());
        assert!(r.ready && r.dependencies[0].error.is_none());
        assert!(report(&[], within, later).ready, "a command with no dependencies is ready");
    }
}
