//! Golden tests of every file in sql/: a small Bronze data set with duplicates, a reorged
//! height, a failed transaction and a value wider than 64 bits goes through the real jobs;
//! each Silver and Gold table is compared with its expected table.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chainlake_medallion::deltalake::arrow::array::RecordBatch;
use chainlake_medallion::deltalake::datafusion::assert_batches_eq;
use chainlake_medallion::jobs::catalog::new_session;
use chainlake_medallion::jobs::{execute, load_jobs};
use chainlake_wire::{fixtures, BlockRecord, ChainEventRecord};

#[path = "golden/bronze.rs"]
mod bronze;
use bronze::*;
#[path = "golden/decoded.rs"]
mod decoded;

fn sql_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql")
}

/// The lines `assert_batches_eq!` expects for `text`: a header line, then one line per row,
/// cells separated by `|` (an empty cell is NULL); values written by hand, as the engine
/// prints them.
fn table(text: &str) -> Vec<String> {
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    let widths: Vec<usize> =
        (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
    let line = |cells: &[&str]| {
        let cells: Vec<String> = cells.iter().zip(&widths).map(|(v, w)| format!(" {v:<w$} ")).collect();
        format!("|{}|", cells.join("|"))
    };
    let border = format!("+{}+", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("+"));
    let mut out = vec![border.clone(), line(&rows[0]), border.clone()];
    out.extend(rows[1..].iter().map(|r| line(r)));
    out.push(border);
    out
}

/// Runs every job (Silver, then Gold) over the golden Bronze, then `sql` on the result.
async fn run(sql: &str) -> Vec<RecordBatch> {
    let ctx = new_session().unwrap();
    bronze(&ctx);
    for job in load_jobs(None).unwrap() {
        execute(&ctx, &job).await.unwrap_or_else(|e| panic!("{}: {e}", job.name));
    }
    ctx.sql(sql).await.unwrap().collect().await.unwrap()
}

/// Every file of sql/ has a golden test, named after it (`async fn silver_blocks()` for
/// sql/silver_blocks.sql) in this file or golden/; nothing lists them: adding a job is adding
/// its file and its test.
#[test]
fn every_sql_file_has_a_golden_test() {
    let files: BTreeSet<String> = std::fs::read_dir(sql_dir())
        .unwrap()
        .filter_map(|e| e.unwrap().path().file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let tests: String = ["golden_sql.rs", "golden/bronze.rs", "golden/decoded.rs"]
        .iter()
        .map(|f| std::fs::read_to_string(here.join(f)).unwrap())
        .collect();
    let untested: Vec<&String> =
        files.iter().filter(|f| !tests.contains(&format!("async fn {f}()"))).collect();
    assert!(untested.is_empty(), "sql/ files without a golden test named after them: {untested:?}");
    let built_in: BTreeSet<String> = chainlake_medallion::jobs::spec::built_in_files()
        .iter()
        .map(|f| f.trim_end_matches(".sql").to_owned())
        .collect();
    assert_eq!(built_in, files, "every file of sql/ is compiled into the binary (medallion/build.rs)");
}

#[tokio::test]
async fn silver_blocks() {
    let b = run("SELECT number, hash, block_time, block_date, fee_recipient, base_fee_per_gas FROM silver.blocks ORDER BY number").await;
    let expected = table(
        "
        number | hash | block_time | block_date | fee_recipient | base_fee_per_gas
        1 | 0xb1 | 2023-11-14T22:13:20Z | 2023-11-14 | 0xm1 | 1000000000
        2 | 0xb2 | 2023-11-14T22:13:32Z | 2023-11-14 | 0xm2 | 2000000000
        3 | 0xb3 | 2023-11-15T22:13:20Z | 2023-11-15 | 0xm2 | 3000000000
        4 | 0xb4 | 2023-11-15T23:13:20Z | 2023-11-15 | 0xm1 |
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn silver_chain_reorgs() {
    let b = run("SELECT detected_at, detected_date, first_height, depth, new_hash, orphaned_hashes, new_hashes, seq FROM silver.chain_reorgs").await;
    let expected = table(
        "
        detected_at | detected_date | first_height | depth | new_hash | orphaned_hashes | new_hashes | seq
        2023-11-15T22:13:25Z | 2023-11-15 | 3 | 1 | 0xb3 | [0xb3x] | [0xb3] | 4
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn silver_logs() {
    // The re-published ERC-20 log once; the log of the orphaned block 0xb3x not at all.
    let b = run("SELECT block_number, tx_hash, log_index, address, topics_count FROM silver.logs ORDER BY block_number, log_index").await;
    let expected = table(
        "
        block_number | tx_hash | log_index | address | topics_count
        2 | 0xt4 | 0 | 0xc1 | 3
        2 | 0xt5 | 1 | 0xc2 | 4
        2 | 0xt5 | 2 | 0xc1 | 3
        2 | 0xt5 | 3 | 0xc2 | 3
        2 | 0xt5 | 4 | 0xc2 | 4
        3 | 0xt7 | 0 | 0xe1 | 4
        3 | 0xt7 | 1 | 0xe1 | 4
        3 | 0xt7 | 2 | 0xc1 | 3
        3 | 0xt7 | 3 | 0xf1 | 3
        3 | 0xt7 | 4 | 0xf2 | 3
        3 | 0xt7 | 5 | 0xf3 | 1
        3 | 0xt7 | 6 | 0xc1 | 3
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn silver_token_transfers() {
    let b = run(
        "SELECT block_number, log_index, batch_index, token, standard, from_address, to_address, operator, token_id, \
         amount, amount_decimal FROM silver.token_transfers ORDER BY block_number, log_index, batch_index",
    )
    .await;
    let (a, bb, c, d) = (addr(0xa), addr(0xb), addr(0xc), addr(0xd));
    let expected = table(&format!(
        "
        block_number | log_index | batch_index | token | standard | from_address | to_address | operator | token_id | amount | amount_decimal
        2 | 0 | 0 | 0xc1 | erc20 | {a} | {bb} |  |  | 1000000000000000000 | 1000000000000000000
        2 | 1 | 0 | 0xc2 | erc721 | {bb} | {c} |  | 42 | 1 | 1
        3 | 0 | 0 | 0xe1 | erc1155 | {a} | {bb} | {d} | 7 | 100 | 100
        3 | 1 | 0 | 0xe1 | erc1155 | {a} | {c} | {d} | 1 | 10 | 10
        3 | 1 | 1 | 0xe1 | erc1155 | {a} | {c} | {d} | 2 | 20 | 20
        3 | 2 | 0 | 0xc1 | erc20 | {bb} | {c} |  |  | {HUGE} |
        "
    ));
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

/// Silver blocks of a Bronze holding `blocks` and reorg `events` (no transactions).
async fn canonical(blocks: &[BlockRecord], events: &[ChainEventRecord]) -> Vec<(u64, String)> {
    let ctx = new_session().unwrap();
    register(&ctx, blocks, &[], &[], events);
    let jobs = load_jobs(None).unwrap();
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

/// Block `number` of `branch` (hash `0x{branch}{number}`) on top of `parent`'s block below,
/// announced by the follower at `seq`.
fn on(number: u64, branch: &str, parent: &str, seq: u64) -> BlockRecord {
    BlockRecord {
        hash: format!("0x{branch}{number}"),
        parent_hash: format!("0x{parent}{}", number - 1),
        seq,
        ..fixtures::block("t", number, DAY1 + number * 12)
    }
}

/// Block `number` of `branch` on top of the same branch.
fn at(number: u64, branch: &str, seq: u64) -> BlockRecord {
    on(number, branch, branch, seq)
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
    blocks.extend([on(11, "b", "a", 14), at(12, "b", 15), at(13, "b", 16)]);
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
        on(11, "c", "a", epoch + 1),
    ];
    let got = canonical(&blocks, &[reorg_at(11, epoch)]).await;
    assert_eq!(got, vec![(10, "0xa10".into()), (11, "0xc11".into())]);
    // The same crash with the reorg only at 12: the new 12 is the head the follower announced.
    let got = canonical(&[at(11, "a", 11), at(12, "a", 12), on(12, "c", "a", epoch)], &[]).await;
    assert_eq!(got, vec![(11, "0xa11".into()), (12, "0xc12".into())]);
}

/// A backfill fetched 12a and 13a before the reorg the follower healed, and published them
/// after the follower's new branch (a later `seq`, `publisher = backfill`): the event orphaned
/// them and the follower never announced them again, and the links from the follower's head
/// run through b; Silver ends on b. Without the event (the follower never saw a), the links
/// alone decide the same.
#[tokio::test]
async fn silver_blocks_when_a_backfill_publishes_orphans_late() {
    let backfill = |b: BlockRecord, seq: u64| BlockRecord { seq, publisher: Some("backfill".into()), ..b };
    let mut blocks = vec![at(10, "a", 10), at(11, "a", 11), at(12, "a", 12), at(13, "a", 13)];
    blocks.extend([on(12, "b", "a", 15), at(13, "b", 16), at(14, "b", 17)]);
    blocks.extend([backfill(at(12, "a", 0), 20), backfill(at(13, "a", 0), 21)]);
    let event = ChainEventRecord {
        seq: 14,
        ..fixtures::reorg("t", 12, vec!["0xa12".into(), "0xa13".into()], vec!["0xb12".into(), "0xb13".into()])
    };
    let expected: Vec<(u64, String)> =
        [(10, "0xa10"), (11, "0xa11"), (12, "0xb12"), (13, "0xb13"), (14, "0xb14")]
            .into_iter()
            .map(|(n, h)| (n, h.to_owned()))
            .collect();
    assert_eq!(canonical(&blocks, &[event]).await, expected);
    let follower_never_saw_a: Vec<BlockRecord> =
        blocks.iter().filter(|b| b.seq != 12 && b.seq != 13).cloned().collect();
    assert_eq!(canonical(&follower_never_saw_a, &[]).await, expected);
}

/// Version-2 records (no `publisher`) count as the follower's, as they did.
#[tokio::test]
async fn silver_blocks_of_version_2_records() {
    let old = |b: BlockRecord| BlockRecord { publisher: None, ..b };
    let blocks =
        vec![old(at(10, "a", 10)), old(at(11, "a", 11)), old(on(11, "b", "a", 13)), old(at(12, "b", 14))];
    let got = canonical(&blocks, &[]).await;
    assert_eq!(got, vec![(10, "0xa10".into()), (11, "0xb11".into()), (12, "0xb12".into())]);
}

#[tokio::test]
async fn silver_transactions() {
    // 0xt4 was published twice, 0xt6 sits in the orphaned block 0xb3x: one row and none.
    // Fees: gas used x effective gas price; priority: x (price - base fee), the whole price
    // before London (0xt9); none without a receipt (0xta).
    let b = run(
        "SELECT hash, block_number, class, value_wei, status, effective_gas_price, has_receipt, fee_wei, \
         priority_fee_wei, method_selector FROM silver.transactions ORDER BY hash",
    )
    .await;
    let expected = table(
        "
        hash | block_number | class | value_wei | status | effective_gas_price | has_receipt | fee_wei | priority_fee_wei | method_selector
        0xt1 | 1 | native_transfer | 1000000000000000000 | 1 | 1500000000 | true | 31500000000000 | 10500000000000 |
        0xt2 | 1 | native_transfer | 5 | 0 | 1000000000 | true | 21000000000000 | 0 |
        0xt3 | 1 | contract_deploy | 0 | 1 | 2000000000 | true | 100000000000000 | 50000000000000 |
        0xt4 | 2 | contract_call | 0 | 1 | 2500000000 | true | 75000000000000 | 15000000000000 | 0xa9059cbb
        0xt5 | 2 | contract_call | 0 | 1 | 3000000000 | true | 120000000000000 | 40000000000000 | 0x095ea7b3
        0xt7 | 3 | contract_call | 0 | 1 | 4000000000 | true | 100000000000000 | 25000000000000 | 0xa9059cbb
        0xt8 | 3 | native_transfer | 123456789012345678901234567890 | 1 | 3000000000 | true | 63000000000000 | 0 |
        0xt9 | 4 | native_transfer | 2 | 1 | 5000000000 | true | 105000000000000 | 105000000000000 |
        0xta | 4 | contract_call | 0 |  |  | false |  |  | 0xdeadbeef
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn gold_gas_daily() {
    // Day 1: priority fees per gas 0, .5, .5, 1, 1 gwei; day 2: 0, 1 and 5 gwei (pre-London:
    // the whole price), 0xta without a receipt, so the day's priority fee sum is NULL.
    let b = run(
        "SELECT day, blocks, txs, txs_without_receipt, gas_used, gas_used_ratio, avg_base_fee_wei, min_base_fee_wei, \
         max_base_fee_wei, avg_effective_gas_price_wei, min_effective_gas_price_wei, max_effective_gas_price_wei, \
         priority_fee_per_gas_p50_wei, priority_fee_per_gas_p90_wei, priority_fee_per_gas_p99_wei, burnt_fees_wei, \
         priority_fees_wei, blob_gas_used FROM gold.gas_daily",
    )
    .await;
    let expected = table(
        "
        day | blocks | txs | txs_without_receipt | gas_used | gas_used_ratio | avg_base_fee_wei | min_base_fee_wei | max_base_fee_wei | avg_effective_gas_price_wei | min_effective_gas_price_wei | max_effective_gas_price_wei | priority_fee_per_gas_p50_wei | priority_fee_per_gas_p90_wei | priority_fee_per_gas_p99_wei | burnt_fees_wei | priority_fees_wei | blob_gas_used
        2023-11-14 | 2 | 5 | 0 | 300000 | 0.005 | 1500000000.0000 | 1000000000 | 2000000000 | 2000000000.0000 | 1000000000 | 3000000000 | 500000000.0 | 1000000000.0 | 1000000000.0 | 500000000000000 | 115500000000000 |
        2023-11-15 | 2 | 4 | 1 | 700000 | 0.011666666666666667 | 3000000000.0000 | 3000000000 | 3000000000 | 4000000000.0000 | 3000000000 | 5000000000 | 1000000000.0 | 4200000000.0 | 4920000000.0 | 900000000000000 |  |
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn gold_gas_hourly() {
    // Day 2 splits: block 3 at 22:13, block 4 (pre-London, 0xta without receipt) at 23:13.
    let b =
        run("SELECT day, hour, blocks, txs, txs_without_receipt, gas_used, priority_fee_per_gas_p50_wei, \
         priority_fee_per_gas_p90_wei, burnt_fees_wei, priority_fees_wei FROM gold.gas_hourly")
        .await;
    let expected = table(
        "
        day | hour | blocks | txs | txs_without_receipt | gas_used | priority_fee_per_gas_p50_wei | priority_fee_per_gas_p90_wei | burnt_fees_wei | priority_fees_wei
        2023-11-14 | 2023-11-14T22:00:00Z | 2 | 5 | 0 | 300000 | 500000000.0 | 1000000000.0 | 500000000000000 | 115500000000000
        2023-11-15 | 2023-11-15T22:00:00Z | 1 | 2 | 0 | 300000 | 500000000.0 | 900000000.0 | 900000000000000 | 25000000000000
        2023-11-15 | 2023-11-15T23:00:00Z | 1 | 2 | 1 | 400000 | 5000000000.0 | 5000000000.0 |  |
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn gold_native_transfers_daily() {
    let b = run("SELECT day, transfers, wei, senders, recipients FROM gold.native_transfers_daily").await;
    let expected = table(
        "
        day | transfers | wei | senders | recipients
        2023-11-14 | 1 | 1000000000000000000 | 1 | 1
        2023-11-15 | 2 | 123456789012345678901234567892 | 2 | 2
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn gold_tx_class_daily() {
    let b = run("SELECT day, class, txs, failed, gas_used FROM gold.tx_class_daily").await;
    let expected = table(
        "
        day | class | txs | failed | gas_used
        2023-11-14 | contract_call | 2 | 0 | 70000
        2023-11-14 | contract_deploy | 1 | 0 | 50000
        2023-11-14 | native_transfer | 2 | 1 | 42000
        2023-11-15 | contract_call | 2 | 0 | 25000
        2023-11-15 | native_transfer | 2 | 0 | 42000
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn gold_api_key_usage_daily() {
    let b = run("SELECT day, key, provider, requests, errors, throttled, unanswered, replicas, methods, \
                 avg_latency_ms, max_latency_ms FROM gold.api_key_usage_daily")
    .await;
    let expected = table(
        "
        day | key | provider | requests | errors | throttled | unanswered | replicas | methods | avg_latency_ms | max_latency_ms
        2023-11-14 | alchemy_1 | alchemy | 1 | 0 | 0 | 0 | 1 | 1 | 20.0 | 20
        2023-11-14 | infura_1 | infura | 3 | 2 | 1 | 1 | 2 | 2 | 15.0 | 30
        2023-11-15 | infura_1 | infura | 1 | 1 | 0 | 0 | 1 | 1 | 40.0 | 40
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn gold_contract_calls_daily() {
    // The method where the call decodes: not day 2's selector-only call nor 0xdeadbeef.
    let b = run("SELECT day, contract, method_selector, method, signature, calls, failed, callers, gas_used FROM gold.contract_calls_daily").await;
    let expected = table(
        "
        day | contract | method_selector | method | signature | calls | failed | callers | gas_used
        2023-11-14 | 0xc1 | 0xa9059cbb | transfer | transfer(address,uint256) | 1 | 0 | 1 | 30000
        2023-11-14 | 0xc2 | 0x095ea7b3 | approve | approve(address,uint256) | 1 | 0 | 1 | 40000
        2023-11-15 | 0xc1 | 0xa9059cbb |  |  | 1 | 0 | 1 | 25000
        2023-11-15 | 0xc3 | 0xdeadbeef |  |  | 1 | 0 | 1 |
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn gold_fee_recipients_daily() {
    // Burnt: each block's gas used x base fee. 0xm1's block 4 has a transaction without its
    // receipt: its priority fees are unknown (NULL), ranked last.
    let b = run("SELECT day, fee_recipient, blocks, txs, txs_without_receipt, priority_fees_wei, burnt_fees_wei, rank FROM gold.fee_recipients_daily").await;
    let expected = table(
        "
        day | fee_recipient | blocks | txs | txs_without_receipt | priority_fees_wei | burnt_fees_wei | rank
        2023-11-14 | 0xm1 | 1 | 3 | 0 | 60500000000000 | 100000000000000 | 1
        2023-11-14 | 0xm2 | 1 | 2 | 0 | 55000000000000 | 400000000000000 | 2
        2023-11-15 | 0xm2 | 1 | 2 | 0 | 25000000000000 | 900000000000000 | 1
        2023-11-15 | 0xm1 | 1 | 2 | 1 |  | 0 | 2
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn gold_fee_recipients_monthly() {
    let b = run("SELECT month, fee_recipient, blocks, txs, txs_without_receipt, priority_fees_wei, burnt_fees_wei, rank FROM gold.fee_recipients_monthly").await;
    let expected = table(
        "
        month | fee_recipient | blocks | txs | txs_without_receipt | priority_fees_wei | burnt_fees_wei | rank
        2023-11-01 | 0xm2 | 2 | 4 | 0 | 80000000000000 | 1300000000000000 | 1
        2023-11-01 | 0xm1 | 2 | 5 | 1 |  | 100000000000000 | 2
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn gold_token_transfers_daily() {
    let b = run(
        "SELECT day, token, standard, transfers, amount, senders, receivers FROM gold.token_transfers_daily",
    )
    .await;
    let expected = table(
        "
        day | token | standard | transfers | amount | senders | receivers
        2023-11-14 | 0xc1 | erc20 | 1 | 1e18 | 1 | 1
        2023-11-14 | 0xc2 | erc721 | 1 | 1.0 | 1 | 1
        2023-11-15 | 0xe1 | erc1155 | 3 | 130.0 | 1 | 2
        2023-11-15 | 0xc1 | erc20 | 1 | 1.6069380442589903e60 | 1 | 1
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}
