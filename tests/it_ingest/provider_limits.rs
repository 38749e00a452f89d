//! A provider that rate-limits (429 past 10 req/s) and fails 20% of requests (503): nginx in
//! front of anvil (infra/local/up.sh). A backfill through it retries with backoff and loses
//! no block.

use crate::common;

use std::collections::BTreeSet;

use chainlake::pipeline;
use chainlake_medallion::bronze::Until;
use tokio_util::sync::CancellationToken;

fn refused(log: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.ends_with("/v3/key_flaky") && (l.starts_with("429") || l.starts_with("503")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_through_a_limiting_flaky_provider_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    common::require(&[common::Service::Provider]);
    let mut cfg = common::test_config("provider", dir.path().to_str().unwrap());
    cfg.rpc.url =
        format!("{}/v3/key_flaky", common::env_or("CHAINLAKE_TEST_PROVIDER", "http://127.0.0.1:8700"));
    cfg.rpc.pseudonym = "flaky-key".into();
    cfg.rpc.concurrency = 8;
    cfg.rpc.max_retries = 30;
    cfg.rpc.initial_backoff = std::time::Duration::from_millis(100);
    let log = common::env_or("CHAINLAKE_TEST_PROVIDER_LOG", "");
    let refused_before = refused(&log);

    let crawler = pipeline::connect(&cfg).await.unwrap();
    let to = 40;
    common::node::reach(to).await;
    let cancel = CancellationToken::new();
    let stats = crawler.backfill(0, to, cfg.rpc.concurrency, &cancel).await.unwrap();
    assert_eq!(stats.blocks, to + 1);

    pipeline::sink(&cfg, Until::CaughtUp, &cancel).await.unwrap();
    let heights: BTreeSet<u64> = pipeline::rows(
        &pipeline::query(&cfg, "SELECT CAST(number AS VARCHAR) FROM bronze.blocks").await.unwrap(),
    )
    .unwrap()
    .into_iter()
    .map(|r| r[0].parse().unwrap())
    .collect();
    assert_eq!(heights, (0..=to).collect::<BTreeSet<_>>(), "every block exactly once, none missing");
    if !log.is_empty() {
        let refused = refused(&log) - refused_before;
        assert!(refused > 10, "the provider really refused requests ({refused})");
    }
}
