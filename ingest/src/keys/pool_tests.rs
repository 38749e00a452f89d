//! The pool's decisions against in-process fakes on a paused clock: one replica per key at any
//! instant, a killed replica's key free after its TTL, a throttled key cooled and left, a key
//! at its quota parked, nothing sent without the store (fail closed), rotation.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::config::{KeysConfig, ResolvedKey};
use super::pool::{Denied, KeyPool};
use crate::test_utils::keys::{MemoryKeyLeases, MemoryLedger};

type Pool = Arc<KeyPool<MemoryKeyLeases, MemoryLedger>>;

fn key(name: &str, per_day: Option<u64>) -> ResolvedKey {
    ResolvedKey {
        pseudonym: name.into(),
        provider: "p".into(),
        url: format!("http://127.0.0.1:1/v3/secret-{name}"),
        ws_url: String::new(),
        per_second: Some(10),
        burst: 100, // no rate-limiter waits: governor's clock is not tokio's paused one
        per_day,
        weights: Default::default(),
    }
}

fn cfg() -> KeysConfig {
    KeysConfig {
        lease_ttl: Duration::from_secs(10),
        heartbeat: Duration::from_secs(3),
        rotate_after: Duration::from_secs(3600),
        cooldown: Duration::from_secs(30),
        max_wait: Duration::from_secs(1),
        ..KeysConfig::default()
    }
}

fn pool(
    replica: &str,
    keys: &[ResolvedKey],
    leases: &MemoryKeyLeases,
    ledger: &MemoryLedger,
    c: KeysConfig,
) -> Pool {
    KeyPool::new("test", replica, keys.to_vec(), c, leases.clone(), ledger.clone())
}

fn start(p: &Pool) -> CancellationToken {
    let cancel = CancellationToken::new();
    let (p, c) = (p.clone(), cancel.clone());
    tokio::spawn(async move { p.run(&c).await });
    cancel
}

/// Lets the pools' tasks run `d` of (paused) time.
async fn pass(d: Duration) {
    tokio::time::sleep(d).await;
}

#[tokio::test(start_paused = true)]
async fn two_replicas_one_key_never_both_hold_it() {
    let (leases, ledger) = (MemoryKeyLeases::default(), MemoryLedger::default());
    let keys = [key("k1", None)];
    let (a, b) = (pool("a", &keys, &leases, &ledger, cfg()), pool("b", &keys, &leases, &ledger, cfg()));
    let (ca, _cb) = (start(&a), start(&b));
    for _ in 0..20 {
        pass(Duration::from_millis(700)).await;
        assert!(!(a.current().is_some() && b.current().is_some()), "both hold k1");
    }
    let first = if a.current().is_some() { &a } else { &b };
    assert!(first.admit(0, "eth_blockNumber").await.is_ok());
    let other = if a.current().is_some() { &b } else { &a };
    assert_eq!(other.admit(0, "eth_blockNumber").await, Err(Denied::NotLeased { key: "k1".into() }));
    ca.cancel(); // a releases if it held the key; b then takes it
    pass(Duration::from_secs(3)).await;
    assert!(b.current().is_some(), "b holds k1 after a stopped");
}

#[tokio::test(start_paused = true)]
async fn a_killed_replicas_key_is_free_after_its_ttl() {
    let (leases, ledger) = (MemoryKeyLeases::default(), MemoryLedger::default());
    let keys = [key("k1", None)];
    let a = pool("a", &keys, &leases, &ledger, cfg());
    let task = {
        let a = a.clone();
        tokio::spawn(async move { a.run(&CancellationToken::new()).await })
    };
    pass(Duration::from_millis(500)).await;
    assert!(a.current().is_some());
    task.abort(); // killed: no release, no heartbeat
    let b = pool("b", &keys, &leases, &ledger, cfg());
    let _cb = start(&b);
    pass(Duration::from_secs(8)).await;
    assert!(b.current().is_none(), "the dead replica's lease still runs");
    pass(Duration::from_secs(4)).await;
    assert!(b.current().is_some(), "free after the TTL, and taken");
    let granted = leases.granted();
    assert_eq!(granted.iter().map(|g| g.1).collect::<Vec<_>>(), [1, 2], "fencing tokens only grow");
}

#[tokio::test(start_paused = true)]
async fn a_throttled_key_cools_down_and_the_replica_moves_on() {
    let (leases, ledger) = (MemoryKeyLeases::default(), MemoryLedger::default());
    let keys = [key("k1", None), key("k2", None)];
    let a = pool("a", &keys, &leases, &ledger, cfg());
    let _c = start(&a);
    pass(Duration::from_millis(500)).await;
    let (first, _) = a.current().unwrap();
    a.throttled(first, Some(Duration::from_secs(20)));
    assert!(a.current().is_none(), "nothing more is sent on a throttled key");
    pass(Duration::from_millis(500)).await;
    let (second, _) = a.current().unwrap();
    assert_ne!(first, second);
    // No other replica may take the cooling key meanwhile.
    let b = pool("b", &keys, &leases, &ledger, cfg());
    let _cb = start(&b);
    pass(Duration::from_secs(5)).await;
    assert!(b.current().is_none(), "k{} cools, k{} is held", first + 1, second + 1);
    pass(Duration::from_secs(20)).await;
    assert_eq!(b.current().map(|c| c.0), Some(first), "after its cooldown the key is free again");
}

#[tokio::test(start_paused = true)]
async fn a_key_at_its_quota_is_parked_and_the_other_carries_on() {
    let (leases, ledger) = (MemoryKeyLeases::default(), MemoryLedger::default());
    let keys = [key("k1", Some(25)), key("k2", None)];
    let a = pool("a", &keys, &leases, &ledger, cfg());
    let _c = start(&a);
    pass(Duration::from_millis(500)).await;
    assert_eq!(a.current().map(|c| c.0), Some(0), "least used first, then by name");
    let mut sent = 0;
    while a.admit(0, "eth_blockNumber").await.is_ok() {
        sent += 1;
    }
    assert_eq!(sent, 25, "exactly the quota");
    assert!(ledger.total("k1") <= 25, "never counted past the quota");
    pass(Duration::from_millis(500)).await;
    assert_eq!(a.current().map(|c| c.0), Some(1), "moved to k2");
    assert!(a.admit(1, "eth_blockNumber").await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn without_the_store_nothing_is_sent_once_the_lease_runs_out() {
    let (leases, ledger) = (MemoryKeyLeases::default(), MemoryLedger::default());
    let keys = [key("k1", None)];
    let a = pool("a", &keys, &leases, &ledger, cfg());
    let _c = start(&a);
    pass(Duration::from_millis(500)).await;
    assert!(a.admit(0, "eth_blockNumber").await.is_ok());
    leases.down.store(true, Ordering::SeqCst);
    pass(Duration::from_secs(10)).await;
    assert_eq!(a.admit(0, "eth_blockNumber").await, Err(Denied::NotLeased { key: "k1".into() }));
    leases.down.store(false, Ordering::SeqCst);
    pass(Duration::from_secs(2)).await;
    assert!(a.admit(0, "eth_blockNumber").await.is_ok(), "resumed when the store is back");
}

#[tokio::test(start_paused = true)]
async fn without_the_ledger_nothing_is_sent() {
    let (leases, ledger) = (MemoryKeyLeases::default(), MemoryLedger::default());
    let keys = [key("k1", None)];
    let a = pool("a", &keys, &leases, &ledger, cfg());
    let _c = start(&a);
    pass(Duration::from_millis(500)).await;
    ledger.down.store(true, Ordering::SeqCst);
    assert!(a.admit(0, "eth_blockNumber").await.is_err(), "a request is counted before it is sent");
}

#[tokio::test(start_paused = true)]
async fn a_replica_rotates_to_the_less_used_key() {
    let (leases, ledger) = (MemoryKeyLeases::default(), MemoryLedger::default());
    let keys = [key("k1", None), key("k2", None)];
    let c = KeysConfig { rotate_after: Duration::from_secs(6), ..cfg() };
    let a = pool("a", &keys, &leases, &ledger, c);
    let _c = start(&a);
    pass(Duration::from_millis(500)).await;
    let (first, _) = a.current().unwrap();
    for _ in 0..5 {
        a.admit(first, "eth_blockNumber").await.unwrap();
    }
    pass(Duration::from_secs(7)).await;
    assert_eq!(a.current().map(|c| c.0), Some(1 - first), "rotated");
}
