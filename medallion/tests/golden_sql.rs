//! Golden tests of every file in sql/: a small Bronze data set with duplicates, a reorged
//! height, a failed transaction and a value wider than 64 bits goes through the real jobs;
//! each Silver and Gold table is compared with its expected table.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chainlake_medallion::bronze::{buffer_for, Envelope};
use chainlake_medallion::catalog::{new_session, register_batches};
use chainlake_medallion::deltalake::arrow::array::RecordBatch;
use chainlake_medallion::deltalake::datafusion::assert_batches_eq;
use chainlake_medallion::deltalake::datafusion::prelude::SessionContext;
use chainlake_medallion::jobs::{execute, load_jobs};
use chainlake_medallion::lake::Layer;
use chainlake_wire::{fixtures, BlockRecord, ChainEventRecord, TopicKind, TxClass, TxRecord};

const COVERED: [&str; 7] = [
    "silver_blocks",
    "silver_transactions",
    "gold_gas_daily",
    "gold_native_transfers_daily",
    "gold_tx_class_daily",
    "gold_contract_calls_daily",
    "gold_fee_recipients_daily",
];

fn sql_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql")
}

const DAY1: u64 = 1_700_000_000; // 2023-11-14T22:13:20Z
const DAY2: u64 = DAY1 + 86_400;

fn block(number: u64, hash: &str, ts: u64, miner: &str, base_gwei: u64) -> BlockRecord {
    BlockRecord {
        hash: hash.into(),
        parent_hash: format!("0xparent{number}"),
        miner: miner.into(),
        gas_used: 100_000 * number,
        base_fee_per_gas: Some((base_gwei * 1_000_000_000).to_string()),
        ..fixtures::block("t", number, ts)
    }
}

#[allow(clippy::too_many_arguments)]
fn tx(
    hash: &str,
    b: &BlockRecord,
    index: u64,
    to: Option<&str>,
    input: &str,
    value: &str,
    status: u64,
    gas_used: u64,
    egp_gwei_tenths: u64,
) -> TxRecord {
    TxRecord {
        hash: hash.into(),
        from: format!("0xfrom{}", index % 2),
        value: value.into(),
        gas: 100_000,
        max_fee_per_gas: Some("9000000000".into()),
        max_priority_fee_per_gas: Some("1000000000".into()),
        status: Some(status),
        gas_used: Some(gas_used),
        cumulative_gas_used: Some(gas_used),
        effective_gas_price: Some((egp_gwei_tenths * 100_000_000).to_string()),
        contract_address: to.is_none().then(|| "0xc1".to_owned()),
        ..fixtures::call(b, index, to, input)
    }
}

/// Bronze as the sink would write it; offsets and arrival times make the order explicit.
fn bronze(ctx: &SessionContext) {
    let b1 = block(1, "0xb1", DAY1, "0xm1", 1);
    let b2 = block(2, "0xb2", DAY1 + 12, "0xm2", 2);
    let b3_orphan = block(3, "0xb3x", DAY2, "0xm1", 3);
    let b3 = block(3, "0xb3", DAY2, "0xm2", 3);
    let txs = vec![
        tx("0xt1", &b1, 0, Some("0xaa"), "0x", "1000000000000000000", 1, 21_000, 15),
        tx("0xt2", &b1, 1, Some("0xab"), "0x", "5", 0, 21_000, 10),
        tx("0xt3", &b1, 2, None, "0x6080", "0", 1, 50_000, 20),
        tx("0xt4", &b2, 0, Some("0xc1"), "0xa9059cbb", "0", 1, 30_000, 25),
        tx("0xt4", &b2, 0, Some("0xc1"), "0xa9059cbb", "0", 1, 30_000, 25), // re-published
        tx("0xt5", &b2, 1, Some("0xc2"), "0x095ea7b3", "0", 1, 40_000, 30),
        tx("0xt6", &b3_orphan, 0, Some("0xaa"), "0x", "7", 1, 21_000, 35), // orphaned block
        tx("0xt7", &b3, 0, Some("0xc1"), "0xa9059cbb", "0", 1, 25_000, 40),
        tx("0xt8", &b3, 1, Some("0xac"), "0x", "123456789012345678901234567890", 1, 21_000, 30),
    ];
    // Publication order (seq): 0xb3x, the reorg at 3, then 0xb3. The orphaned 0xb3x arrives
    // last: the follower's sequence, not arrival order, excludes it.
    let b3_orphan = BlockRecord { seq: 3, ..b3_orphan };
    let b3 = BlockRecord { seq: 5, ..b3 };
    let blocks = [b1.clone(), b2.clone(), b2, b3, b3_orphan];
    let reorg = ChainEventRecord {
        detected_at: 1,
        seq: 4,
        ..fixtures::reorg("t", 3, vec!["0xb3x".into()], vec!["0xb3".into()])
    };
    register(ctx, &blocks, &txs, &[reorg]);
}

/// Registers Bronze tables holding `blocks`, `txs` and `events`, arriving in that order.
fn register(ctx: &SessionContext, blocks: &[BlockRecord], txs: &[TxRecord], events: &[ChainEventRecord]) {
    let mut offset = 0;
    let mut push = |kind: TopicKind, rows: Vec<Vec<u8>>| {
        let mut buf = buffer_for(kind);
        for payload in rows {
            offset += 1;
            let env = Envelope {
                topic: kind.suffix().into(),
                partition: 0,
                offset,
                key: None,
                ingested_at: offset * 1_000_000,
            };
            buf.push(&payload, env).unwrap();
        }
        let (batch, late): (RecordBatch, _) = buf.take_batch().unwrap();
        assert!(late.is_empty());
        register_batches(ctx, Layer::Bronze, kind.table_name(), buf.schema(), vec![batch]).unwrap();
    };
    push(TopicKind::Blocks, blocks.iter().map(|b| serde_json::to_vec(b).unwrap()).collect());
    for class in TxClass::ALL {
        let rows = txs.iter().filter(|t| t.class == class).map(|t| serde_json::to_vec(t).unwrap()).collect();
        push(TopicKind::Txs(class), rows);
    }
    push(TopicKind::Logs, Vec::new());
    push(TopicKind::ChainEvents, events.iter().map(|e| serde_json::to_vec(e).unwrap()).collect());
    push(TopicKind::Unverified, Vec::new());
}

/// Runs every job (Silver, then Gold) over the golden Bronze, then `sql` on the result.
async fn run(sql: &str) -> Vec<RecordBatch> {
    let ctx = new_session().unwrap();
    bronze(&ctx);
    for job in load_jobs(&sql_dir()).unwrap() {
        execute(&ctx, &job).await.unwrap_or_else(|e| panic!("{}: {e}", job.name));
    }
    ctx.sql(sql).await.unwrap().collect().await.unwrap()
}

#[test]
fn every_sql_file_has_a_golden_test() {
    let files: BTreeSet<String> = std::fs::read_dir(sql_dir())
        .unwrap()
        .filter_map(|e| e.unwrap().path().file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(files, COVERED.iter().map(|s| s.to_string()).collect());
}

#[tokio::test]
async fn silver_blocks() {
    let b = run("SELECT number, hash, block_time, block_date, fee_recipient, base_fee_per_gas FROM silver.blocks ORDER BY number").await;
    assert_batches_eq!(
        [
            "+--------+------+----------------------+------------+---------------+------------------+",
            "| number | hash | block_time           | block_date | fee_recipient | base_fee_per_gas |",
            "+--------+------+----------------------+------------+---------------+------------------+",
            "| 1      | 0xb1 | 2023-11-14T22:13:20Z | 2023-11-14 | 0xm1          | 1000000000       |",
            "| 2      | 0xb2 | 2023-11-14T22:13:32Z | 2023-11-14 | 0xm2          | 2000000000       |",
            "| 3      | 0xb3 | 2023-11-15T22:13:20Z | 2023-11-15 | 0xm2          | 3000000000       |",
            "+--------+------+----------------------+------------+---------------+------------------+",
        ],
        &b
    );
}

/// Silver blocks of a Bronze holding `blocks` and reorg `events` (no transactions).
async fn canonical(blocks: &[BlockRecord], events: &[ChainEventRecord]) -> Vec<(u64, String)> {
    let ctx = new_session().unwrap();
    register(&ctx, blocks, &[], events);
    let jobs = load_jobs(&sql_dir()).unwrap();
    let job = jobs.iter().find(|j| j.name == "blocks").unwrap();
    execute(&ctx, job).await.unwrap();
    let rows = ctx.sql("SELECT number, hash FROM silver.blocks ORDER BY number").await.unwrap();
    let batches = rows.collect().await.unwrap();
    let mut out = Vec::new();
    for b in &batches {
        let n = b
            .column(0)
            .as_any()
            .downcast_ref::<chainlake_medallion::deltalake::arrow::array::Int64Array>()
            .unwrap();
        let h = b
            .column(1)
            .as_any()
            .downcast_ref::<chainlake_medallion::deltalake::arrow::array::StringArray>()
            .unwrap();
        for i in 0..b.num_rows() {
            out.push((n.value(i) as u64, h.value(i).to_owned()));
        }
    }
    out
}

fn at(number: u64, branch: &str, seq: u64) -> BlockRecord {
    BlockRecord {
        hash: format!("0x{branch}{number}"),
        seq,
        ..fixtures::block("t", number, DAY1 + number * 12)
    }
}

fn reorg_at(number: u64, seq: u64) -> ChainEventRecord {
    ChainEventRecord { seq, ..fixtures::reorg("t", number, Vec::new(), Vec::new()) }
}

/// A → B → A within a second: the second event names only part of what it re-adopts, and B
/// was longer than A. Silver ends on A at every height, nothing of B, no height lost; the
/// rows arrive in reverse (a backlog sunk partition by partition), which changes nothing.
#[tokio::test]
async fn silver_blocks_after_a_quick_flip_back() {
    let mut blocks = vec![at(10, "a", 10), at(11, "a", 11), at(12, "a", 12)];
    blocks.extend([at(11, "b", 14), at(12, "b", 15), at(13, "b", 16)]);
    blocks.extend([at(11, "a", 18), at(12, "a", 19)]);
    blocks.reverse();
    let got = canonical(&blocks, &[reorg_at(11, 13), reorg_at(11, 17)]).await;
    assert_eq!(got, vec![(10, "0xa10".into()), (11, "0xa11".into()), (12, "0xa12".into())]);
}

/// Killed after Kafka acknowledged block 12 but before the window recorded it; the node
/// reorganised 11.. while the follower was down. The restarted follower (a later epoch)
/// announces the reorg it finds at 11 and re-publishes; the unrecorded 12 is orphaned by it.
#[tokio::test]
async fn silver_blocks_after_a_crash_between_ack_and_record() {
    let epoch = 1u64 << 32;
    let blocks = vec![
        at(10, "a", 10),
        at(11, "a", 11),
        at(12, "a", 12), // acknowledged, never recorded
        at(11, "c", epoch + 1),
    ];
    let got = canonical(&blocks, &[reorg_at(11, epoch)]).await;
    assert_eq!(got, vec![(10, "0xa10".into()), (11, "0xc11".into())]);
    // The same crash with the reorg only at 12: the new 12 outranks the unrecorded one.
    let got = canonical(&[at(11, "a", 11), at(12, "a", 12), at(12, "c", epoch)], &[]).await;
    assert_eq!(got, vec![(11, "0xa11".into()), (12, "0xc12".into())]);
}

#[tokio::test]
async fn silver_transactions() {
    // 0xt4 was published twice, 0xt6 sits in the orphaned block 0xb3x: one row and none.
    let b = run("SELECT hash, block_number, class, value_wei, status, effective_gas_price FROM silver.transactions ORDER BY hash").await;
    assert_batches_eq!(
        [
            "+------+--------------+-----------------+--------------------------------+--------+---------------------+",
            "| hash | block_number | class           | value_wei                      | status | effective_gas_price |",
            "+------+--------------+-----------------+--------------------------------+--------+---------------------+",
            "| 0xt1 | 1            | native_transfer | 1000000000000000000            | 1      | 1500000000          |",
            "| 0xt2 | 1            | native_transfer | 5                              | 0      | 1000000000          |",
            "| 0xt3 | 1            | contract_deploy | 0                              | 1      | 2000000000          |",
            "| 0xt4 | 2            | contract_call   | 0                              | 1      | 2500000000          |",
            "| 0xt5 | 2            | contract_call   | 0                              | 1      | 3000000000          |",
            "| 0xt7 | 3            | contract_call   | 0                              | 1      | 4000000000          |",
            "| 0xt8 | 3            | native_transfer | 123456789012345678901234567890 | 1      | 3000000000          |",
            "+------+--------------+-----------------+--------------------------------+--------+---------------------+",
        ],
        &b
    );
}

#[tokio::test]
async fn gold_gas_daily() {
    let b = run("SELECT * FROM gold.gas_daily").await;
    assert_batches_eq!(
        [
            "+-------+------------+--------+-----+----------+----------------+------------------+------------------+------------------+-----------------------------+-----------------------------+-----------------------------+",
            "| chain | day        | blocks | txs | gas_used | gas_used_ratio | avg_base_fee_wei | min_base_fee_wei | max_base_fee_wei | avg_effective_gas_price_wei | min_effective_gas_price_wei | max_effective_gas_price_wei |",
            "+-------+------------+--------+-----+----------+----------------+------------------+------------------+------------------+-----------------------------+-----------------------------+-----------------------------+",
            "| t     | 2023-11-14 | 2      | 5   | 300000   | 0.005          | 1500000000.0000  | 1000000000       | 2000000000       | 2000000000.0000             | 1000000000                  | 3000000000                  |",
            "| t     | 2023-11-15 | 1      | 2   | 300000   | 0.01           | 3000000000.0000  | 3000000000       | 3000000000       | 3500000000.0000             | 3000000000                  | 4000000000                  |",
            "+-------+------------+--------+-----+----------+----------------+------------------+------------------+------------------+-----------------------------+-----------------------------+-----------------------------+",
        ],
        &b
    );
}

#[tokio::test]
async fn gold_native_transfers_daily() {
    let b = run("SELECT * FROM gold.native_transfers_daily").await;
    assert_batches_eq!(
        [
            "+-------+------------+-----------+--------------------------------+---------+------------+",
            "| chain | day        | transfers | wei                            | senders | recipients |",
            "+-------+------------+-----------+--------------------------------+---------+------------+",
            "| t     | 2023-11-14 | 1         | 1000000000000000000            | 1       | 1          |",
            "| t     | 2023-11-15 | 1         | 123456789012345678901234567890 | 1       | 1          |",
            "+-------+------------+-----------+--------------------------------+---------+------------+",
        ],
        &b
    );
}

#[tokio::test]
async fn gold_tx_class_daily() {
    let b = run("SELECT * FROM gold.tx_class_daily").await;
    assert_batches_eq!(
        [
            "+-------+------------+-----------------+-----+--------+----------+",
            "| chain | day        | class           | txs | failed | gas_used |",
            "+-------+------------+-----------------+-----+--------+----------+",
            "| t     | 2023-11-14 | contract_call   | 2   | 0      | 70000    |",
            "| t     | 2023-11-14 | contract_deploy | 1   | 0      | 50000    |",
            "| t     | 2023-11-14 | native_transfer | 2   | 1      | 42000    |",
            "| t     | 2023-11-15 | contract_call   | 1   | 0      | 25000    |",
            "| t     | 2023-11-15 | native_transfer | 1   | 0      | 21000    |",
            "+-------+------------+-----------------+-----+--------+----------+",
        ],
        &b
    );
}

#[tokio::test]
async fn gold_contract_calls_daily() {
    let b = run("SELECT * FROM gold.contract_calls_daily").await;
    assert_batches_eq!(
        [
            "+-------+------------+----------+-------+--------+---------+----------+",
            "| chain | day        | contract | calls | failed | callers | gas_used |",
            "+-------+------------+----------+-------+--------+---------+----------+",
            "| t     | 2023-11-14 | 0xc1     | 1     | 0      | 1       | 30000    |",
            "| t     | 2023-11-14 | 0xc2     | 1     | 0      | 1       | 40000    |",
            "| t     | 2023-11-15 | 0xc1     | 1     | 0      | 1       | 25000    |",
            "+-------+------------+----------+-------+--------+---------+----------+",
        ],
        &b
    );
}

#[tokio::test]
async fn gold_fee_recipients_daily() {
    let b = run("SELECT * FROM gold.fee_recipients_daily").await;
    assert_batches_eq!(
        [
            "+-------+------------+---------------+--------+-----+-------------------+-----------------+",
            "| chain | day        | fee_recipient | blocks | txs | priority_fees_wei | burnt_fees_wei  |",
            "+-------+------------+---------------+--------+-----+-------------------+-----------------+",
            "| t     | 2023-11-14 | 0xm1          | 1      | 3   | 60500000000000    | 92000000000000  |",
            "| t     | 2023-11-14 | 0xm2          | 1      | 2   | 55000000000000    | 140000000000000 |",
            "| t     | 2023-11-15 | 0xm2          | 1      | 2   | 25000000000000    | 138000000000000 |",
            "+-------+------------+---------------+--------+-----+-------------------+-----------------+",
        ],
        &b
    );
}
