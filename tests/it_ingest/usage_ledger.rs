//! The usage ledger's two backends under one test body: Redis (always, the local server) and
//! ScyllaDB (ignored by default, since none can run on the development machine: with
//! `CHAINLAKE_TEST_SCYLLA_URI` naming a server, run it with `-- --ignored scylla_ledger`).

use crate::common;

use chainlake_ingest::keys::ledger::scylla::ScyllaConfig;
use chainlake_ingest::keys::ledger::{any::AnyLedger, KeyUsage, UsageLedger, OBSERVED, RESERVED};

const MINUTE: u64 = 60_000;
const DAY: u64 = 24 * 60 * MINUTE;

/// Counts added at known minutes sum into the last minute, the last 24 h and today; the two
/// ledgers of one chain and two keys stay apart.
async fn ledger_body(reserved: AnyLedger, observed: AnyLedger) {
    // now: some day, 00:30:20 UTC.
    let now = 20_000 * DAY + 30 * MINUTE + 20_000;
    let this_minute = now - now % MINUTE;
    reserved.add("k1", this_minute + 5, 7).await.unwrap();
    reserved.add("k1", this_minute - MINUTE + 1, 2).await.unwrap();
    reserved.add("k1", this_minute - MINUTE + 2, 3).await.unwrap();
    reserved.add("k1", 20_000 * DAY - 60 * MINUTE, 100).await.unwrap(); // yesterday 23:00
    reserved.add("k1", now - DAY - 60 * MINUTE, 1_000).await.unwrap(); // 25 h ago: gone
    reserved.add("k2", this_minute, 1).await.unwrap();
    observed.add("k1", this_minute, 40).await.unwrap();
    let keys = ["k1".to_owned(), "k2".to_owned(), "k3".to_owned()];
    let r = reserved.usage(&keys, now).await.unwrap();
    assert_eq!(r[0], KeyUsage { last_minute: 5, last_24h: 112, today: 12 });
    assert_eq!(r[1], KeyUsage { last_minute: 0, last_24h: 1, today: 1 });
    assert_eq!(r[2], KeyUsage::default(), "a key never used");
    let o = observed.usage(&keys, now).await.unwrap();
    assert_eq!(o[0], KeyUsage { last_minute: 0, last_24h: 40, today: 40 }, "the observed ledger is its own");
}

async fn run(scylla: &ScyllaConfig, name: &str) {
    let redis = common::env_or("CHAINLAKE_TEST_REDIS", "redis://127.0.0.1:6379");
    let ns = format!("{}.", common::unique(name));
    let reserved = AnyLedger::connect(scylla, &redis, &ns, "devnet", RESERVED).await.unwrap();
    let observed = AnyLedger::connect(scylla, &redis, &ns, "devnet", OBSERVED).await.unwrap();
    assert_eq!(matches!(reserved, AnyLedger::Scylla(_)), scylla.enabled());
    ledger_body(reserved, observed).await;
}

#[tokio::test]
async fn redis_ledger() {
    common::require(&[common::Service::Redis]);
    run(&ScyllaConfig::default(), "ledger-redis").await;
}

#[tokio::test]
#[ignore = "needs a live ScyllaDB: set CHAINLAKE_TEST_SCYLLA_URI and run with --ignored"]
async fn scylla_ledger() {
    let uri = std::env::var("CHAINLAKE_TEST_SCYLLA_URI")
        .expect("CHAINLAKE_TEST_SCYLLA_URI names the ScyllaDB server of this run");
    let keyspace = common::env_or("CHAINLAKE_TEST_SCYLLA_KEYSPACE", "chainlake_test");
    run(&ScyllaConfig { uri, keyspace }, "ledger-scylla").await;
}
