//! The API-key pool against real services: nginx in front of anvil with one location per key
//! path, each limited to 10 requests/s and answering 429 beyond (infra/local/up.sh), Redis for
//! the leases and the ledger, tansu and the lake.
//!
//! Three `chainlake ingest backfill` processes (the real binary) share one range with two keys:
//! - no key is used by two replicas at once: nginx logs every request with the lease it was sent
//!   under (replica and fencing token), and per key the spans of different leases never overlap;
//! - no key goes past its rate limit: nginx answers 0 × 429;
//! - every block reaches Bronze exactly once;
//! - the replica left without a key says so, and no secret appears in any log line.

use crate::common;

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::keys::{
    assert_every_block, backfill, finish, front_log, keys_status, overlaps, pool_config,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_two_keys_never_share_never_overrun_lose_nothing() {
    common::require(&[common::Service::Provider]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::test_config("keypool", dir.path().to_str().unwrap());
    let keys = [11, 12];
    let config = pool_config(dir.path(), &keys, None);
    let to = 240;
    common::node::reach(to).await;
    let before = front_log(&keys).len();
    let logs: Vec<_> = (0..3).map(|i| dir.path().join(format!("replica-{i}.log"))).collect();
    let mut replicas: Vec<_> = logs.iter().map(|log| backfill(&cfg, &config, &keys, to, log)).collect();
    finish(&mut replicas, &logs).await;
    let lines: Vec<_> = front_log(&keys).into_iter().skip(before).collect();
    assert!(lines.len() as u64 >= 2 * (to + 1), "the front saw the requests ({})", lines.len());
    let throttled = lines.iter().filter(|l| l.1 == 429).count();
    assert_eq!(throttled, 0, "no key went past 10 requests/s");
    assert!(lines.iter().all(|l| l.3.contains('|')), "every request carried its lease");
    assert_eq!(overlaps(&lines), Vec::<String>::new(), "two leases of one key at once");

    assert_every_block(&cfg, to, true).await;

    let text: String = logs.iter().map(|l| std::fs::read_to_string(l).unwrap_or_default()).collect();
    assert!(text.contains("key leased"), "replicas log their leases");
    for k in keys {
        assert!(!text.contains(&format!("pool_{k}")), "secret pool_{k} in a log line");
    }
}

/// A replica holding the only key is killed with -9: the other replica, which was waiting and
/// saying why, takes the key once the lease's TTL has passed, and no block is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replicas_key_passes_on_after_its_ttl() {
    common::require(&[common::Service::Provider]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::test_config("keykill", dir.path().to_str().unwrap());
    let keys = [21];
    let config = pool_config(dir.path(), &keys, None);
    let to = 120;
    common::node::reach(to).await;
    let logs: Vec<_> = (0..2).map(|i| dir.path().join(format!("replica-{i}.log"))).collect();
    let mut first = backfill(&cfg, &config, &keys, to, &logs[0]);
    common::eventually("the first replica leased the key", Duration::from_secs(60), || async {
        keys_status(&config, &cfg, &keys).contains("leased").then_some(())
    })
    .await;
    let mut second = vec![backfill(&cfg, &config, &keys, to, &logs[1])];
    common::eventually("the second replica waits", Duration::from_secs(60), || async {
        std::fs::read_to_string(&logs[1]).unwrap_or_default().contains("no key free").then_some(())
    })
    .await;
    first.kill().unwrap(); // SIGKILL: no release; the lease expires after keys.lease-ttl
    first.wait().unwrap();
    finish(&mut second, &logs[1..]).await;
    assert_every_block(&cfg, to, true).await;
    let waited = std::fs::read_to_string(&logs[1]).unwrap();
    assert!(waited.contains("held: key-21"), "the wait names the held key: {waited}");
    assert!(!waited.contains("pool_21"), "no secret in a log line");
}

/// A key with a tiny daily quota is parked once it is used up; the other key carries the run,
/// and `keys status` shows the first one parked with nothing left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_at_its_quota_is_parked_and_the_other_carries_the_load() {
    common::require(&[common::Service::Provider]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::test_config("keyquota", dir.path().to_str().unwrap());
    let keys = [31, 32];
    let config = pool_config(dir.path(), &keys, Some(60));
    let to = 80;
    common::node::reach(to).await;
    let logs = vec![dir.path().join("replica.log")];
    let before = front_log(&[31]).len(); // nginx's log outlives test runs
    let mut one = vec![backfill(&cfg, &config, &keys, to, &logs[0])];
    finish(&mut one, &logs).await;
    assert_every_block(&cfg, to, true).await;
    let status = keys_status(&config, &cfg, &keys);
    let line = |k: &str| status.lines().find(|l| l.starts_with(k)).unwrap_or_default().to_owned();
    assert!(line("key-31").contains("parked") && line("key-31").trim_end().ends_with(" 0"), "{status}");
    assert!(line("key-32").contains("free"), "{status}");
    let sent: usize = front_log(&[31]).iter().skip(before).filter(|l| l.1 == 200).count();
    assert!(sent <= 60, "key-31 sent {sent} requests, past its quota of 60");
    assert!(!status.contains("pool_3"), "no secret in keys status");
}

/// Redis frozen mid-run (SIGSTOP: every call hangs, as on a partitioned network): once the
/// lease has run out by the local clock no request goes out on the key, and when Redis answers
/// again (SIGCONT) the replica leases again and finishes, losing no block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_no_request_goes_out_and_the_replica_resumes() {
    common::require(&[common::Service::Provider]);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("keyredis", dir.path().to_str().unwrap());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let redis = own_redis(port).await;
    cfg.redis.url = format!("redis://127.0.0.1:{port}");
    let keys = [41];
    let config = pool_config(dir.path(), &keys, None);
    let to = 120;
    common::node::reach(to).await;
    let logs = vec![dir.path().join("replica.log")];
    let before = front_log(&keys).len();
    let mut one = vec![backfill(&cfg, &config, &keys, to, &logs[0])];
    common::eventually("requests on the key", Duration::from_secs(60), || async {
        (front_log(&keys).len() > before + 20).then_some(())
    })
    .await;
    let pid = redis.id().to_string();
    Command::new("kill").args(["-STOP", &pid]).status().unwrap();
    let frozen = now_secs();
    tokio::time::sleep(Duration::from_secs(9)).await; // the outage under test, not a readiness wait
    let thawed = now_secs();
    Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    finish(&mut one, &logs).await;
    // The backfill's chunk lease (in the same Redis) ran out too: the chunk resumes from its
    // checkpoint and re-publishes the blocks after it, which Silver deduplicates by hash.
    assert_every_block(&cfg, to, false).await;
    // keys.lease-ttl is 4 s: from then until Redis answered again, nothing went out.
    let during: Vec<f64> =
        front_log(&keys).iter().map(|l| l.0).filter(|t| *t > frozen + 4.0 && *t < thawed).collect();
    assert!(during.is_empty(), "requests sent without a lease: {during:?}");
    let text = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(text.contains("key store unreachable") || text.contains("lease lost"), "it said why it stopped");
}

/// A Redis server of the test's own on `port`, once it accepts connections.
async fn own_redis(port: u16) -> common::Reaped {
    let redis = common::Reaped::new(
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    common::eventually("the test's own redis", Duration::from_secs(20), || async {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
    })
    .await;
    redis
}

fn now_secs() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// A replica started while Redis is down sends nothing and says so, and starts when Redis
/// comes up (fail closed from the start, not an exit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_started_before_redis_waits_for_it() {
    common::require(&[common::Service::Provider]);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("keynoredis", dir.path().to_str().unwrap());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    cfg.redis.url = format!("redis://127.0.0.1:{port}");
    let keys = [61];
    let config = pool_config(dir.path(), &keys, None);
    let to = 40;
    common::node::reach(to).await;
    let logs = vec![dir.path().join("replica.log")];
    let before = front_log(&keys).len();
    let mut one = vec![backfill(&cfg, &config, &keys, to, &logs[0])];
    common::eventually("the replica says it waits for the key store", Duration::from_secs(60), || async {
        std::fs::read_to_string(&logs[0])
            .unwrap_or_default()
            .contains("key store unreachable at start")
            .then_some(())
    })
    .await;
    assert!(one[0].try_wait().unwrap().is_none(), "it waits, it does not exit");
    assert_eq!(front_log(&keys).len(), before, "nothing sent without the key store");
    let _redis = own_redis(port).await;
    finish(&mut one, &logs).await;
    assert_every_block(&cfg, to, true).await;
}
