//! Kafka → Bronze on the local lake and on the S3 server, with the same test body: real
//! mainnet blocks published to tansu, a malformed record among them, the sink run twice.

use crate::common;

use chainlake::config::Config;
use chainlake::pipeline;
use chainlake_ingest::crawl::transform::transform_block;
use chainlake_ingest::publish::{ensure_topics, Publisher};
use chainlake_medallion::bronze::Until;
use chainlake_wire::{TopicKind, Topics};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;

async fn count(cfg: &Config, sql: &str) -> String {
    pipeline::rows(&pipeline::query(cfg, sql).await.unwrap()).unwrap()[0][0].clone()
}

/// What [`publish_inputs`] sent.
struct Sent {
    blocks: usize,
    txs: usize,
    logs: usize,
    blocks_topic: String,
    breaking: serde_json::Value,
}

/// Publishes three recorded mainnet blocks, then on the blocks topic a malformed record, a
/// record with an added field and one whose known field changed type.
async fn publish_inputs(cfg: &Config, topics: &Topics) -> Sent {
    ensure_topics(&cfg.kafka, topics).await.unwrap();
    let publisher = Publisher::new(&cfg.kafka, &cfg.chain.name).unwrap();
    let (mut blocks, mut txs, mut logs) = (0, 0, 0);
    let mut sample = None;
    for n in [47_218, 483_920, 18_000_000] {
        let b = common::mainnet(&format!("block-{n}.json"));
        let r = common::mainnet(&format!("receipts-{n}.json"));
        let bundle = transform_block("ethereum", &b, Some(&r)).unwrap();
        (blocks, txs, logs) = (blocks + 1, txs + bundle.txs.len(), logs + bundle.logs.len());
        publisher.publish(&bundle).await.unwrap();
        sample.get_or_insert(bundle.block);
    }
    // A malformed record between good ones: kept raw in _rejected, never a crash.
    let raw: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", &cfg.kafka.brokers).create().unwrap();
    let blocks_topic = topics.name(TopicKind::Blocks);
    let send = |key: &'static str, payload: String| {
        let (raw, topic) = (raw.clone(), blocks_topic.clone());
        async move {
            raw.send(FutureRecord::to(&topic).key(key).payload(&payload), std::time::Duration::from_secs(10))
                .await
                .unwrap();
        }
    };
    send("bad", "{\"number\": \"not a block\"".into()).await;
    // Schema evolution: an added field becomes a nullable column; a changed type is rejected.
    let mut added = serde_json::to_value(sample.unwrap()).unwrap();
    added["hash"] = "0xadded".into();
    // A height of its own: at the sample's height it would compete with the real block in
    // Silver (both published outside a follower, seq 0: arrival order decides).
    added["number"] = 1.into();
    added["uncles_count"] = 2.into();
    let mut breaking = added.clone();
    breaking["number"] = "0x10".into();
    send("added", serde_json::to_string(&added).unwrap()).await;
    send("breaking", serde_json::to_string(&breaking).unwrap()).await;
    Sent { blocks, txs, logs, blocks_topic, breaking }
}

async fn bronze_round_trip(mut cfg: Config) {
    cfg.chain.name = "ethereum".into();
    let topics = Topics::new(&cfg.kafka.topic_prefix, &cfg.chain.name);
    let Sent { blocks, txs, logs, blocks_topic, breaking } = publish_inputs(&cfg, &topics).await;

    let cancel = CancellationToken::new();
    let stats = pipeline::sink(&cfg, Until::CaughtUp, &cancel).await.unwrap();
    assert_eq!(stats.rows as usize, blocks + 1 + txs + logs);
    assert_eq!(stats.rejected, 2);
    assert_eq!(
        count(&cfg, "SELECT CAST(count(uncles_count) AS VARCHAR) FROM bronze.blocks WHERE hash = '0xadded'")
            .await,
        "1"
    );

    let all_txs = "SELECT CAST(count(*) AS VARCHAR) FROM (SELECT hash FROM bronze.txs_native_transfer \
        UNION ALL SELECT hash FROM bronze.txs_contract_call UNION ALL SELECT hash FROM bronze.txs_contract_deploy)";
    assert_eq!(count(&cfg, all_txs).await, txs.to_string());
    assert_eq!(count(&cfg, "SELECT CAST(count(*) AS VARCHAR) FROM bronze.logs").await, logs.to_string());
    assert_eq!(count(&cfg, "SELECT CAST(count(DISTINCT hash) AS VARCHAR) FROM bronze.blocks").await, "4");
    let rejected = pipeline::rows(
        &pipeline::query(
            &cfg,
            "SELECT _kafka_topic, _kafka_key, payload, error FROM bronze._rejected ORDER BY _kafka_key",
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0][..3], [blocks_topic.clone(), "bad".into(), "{\"number\": \"not a block\"".into()]);
    assert_eq!(
        rejected[1][..3],
        [blocks_topic.clone(), "breaking".into(), serde_json::to_string(&breaking).unwrap()]
    );
    assert!(rejected[1][3].contains("invalid type"), "{}", rejected[1][3]);

    // Exactly once: a second run finds its offsets in the Delta log and writes nothing again.
    let again = pipeline::sink(&cfg, Until::CaughtUp, &cancel).await.unwrap();
    assert_eq!((again.rows, again.rejected), (0, 0));
    assert_eq!(count(&cfg, all_txs).await, txs.to_string());
    assert_eq!(count(&cfg, "SELECT CAST(count(*) AS VARCHAR) FROM bronze._rejected").await, "2");
    for c in pipeline::check_tables(&cfg).await.unwrap() {
        assert!(c.dremio_readable(), "{c:?}");
    }

    // Silver and Gold run on the same storage.
    let reports = pipeline::medallion(&cfg).await.unwrap();
    assert!(reports.iter().any(|r| r.table == "silver.transactions" && r.rows == txs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bronze_on_local_lake() {
    let dir = tempfile::tempdir().unwrap();
    bronze_round_trip(common::test_config("bronze-local", dir.path().to_str().unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bronze_on_s3_server() {
    bronze_round_trip(common::s3_config("bronze-s3")).await;
}
