//! The golden Bronze data set: blocks over two days with a re-published block, a reorged
//! height, a pre-London block and a transaction without receipt, their token, approval and
//! swap logs (and one of an unknown event, one too short to decode), a reorg event, and RPC
//! usage records; registered as the sink would write them.

use chainlake_medallion::bronze::{buffer_for, Envelope};
use chainlake_medallion::deltalake::arrow::array::RecordBatch;
use chainlake_medallion::deltalake::datafusion::prelude::SessionContext;
use chainlake_medallion::jobs::catalog::register_batches;
use chainlake_medallion::lake::Layer;
use chainlake_wire::records::RpcUsageRecord;
use chainlake_wire::{fixtures, BlockRecord, ChainEventRecord, LogRecord, TopicKind, TxClass, TxRecord};

pub(crate) const DAY1: u64 = 1_700_000_000; // 2023-11-14T22:13:20Z
pub(crate) const DAY2: u64 = DAY1 + 86_400;

/// Block `number` with `hash`, on top of the block `0xb{number - 1}` (the data set's chain).
pub(crate) fn block(number: u64, hash: &str, ts: u64, miner: &str, base_gwei: u64) -> BlockRecord {
    BlockRecord {
        hash: hash.into(),
        parent_hash: format!("0xb{}", number - 1),
        miner: miner.into(),
        gas_used: 100_000 * number,
        base_fee_per_gas: Some((base_gwei * 1_000_000_000).to_string()),
        ..fixtures::block("t", number, ts)
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn tx(
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

pub(crate) fn no_receipt(t: TxRecord) -> TxRecord {
    TxRecord {
        has_receipt: false,
        status: None,
        gas_used: None,
        cumulative_gas_used: None,
        effective_gas_price: None,
        contract_address: None,
        ..t
    }
}

/// A 32-byte word holding `n` (a topic or a data word), and the address in such a topic.
pub(crate) fn word(n: u128) -> String {
    format!("{n:064x}")
}
pub(crate) fn topic(n: u128) -> Option<String> {
    Some(format!("0x{}", word(n)))
}
pub(crate) fn addr(n: u128) -> String {
    format!("0x{n:040x}")
}
/// The 32-byte two's complement word of `-n` (an int256 or a sign-extended int24).
pub(crate) fn neg_word(n: u64) -> String {
    format!("{}{:016x}", "f".repeat(48), n.wrapping_neg())
}

pub(crate) const TRANSFER: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
pub(crate) const TRANSFER_SINGLE: &str = "0xc3d58168c5ae7397731d063d5bbf3d657854427343f4c083240f7aacaa2d0f62";
pub(crate) const TRANSFER_BATCH: &str = "0x4a39dc06d4c0dbc64b70af90fd698a233a518aa5d07e595d983b8c0526c8f7fb";
pub(crate) const APPROVAL: &str = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925";
pub(crate) const APPROVAL_FOR_ALL: &str =
    "0x17307eab39ab6107e8899845ad3d59bd9653f200f220920489ca2b5937696c31";
pub(crate) const V2_SWAP: &str = "0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822";
pub(crate) const V3_SWAP: &str = "0xc42079f94a6350d7e6235f29174924f928cc2ac818eb64fed8004e115fbcca67";
/// 2^200: an amount wider than DECIMAL(38,0).
pub(crate) const HUGE: &str = "1606938044258990275541962092341162602522202993782792835301376";

pub(crate) fn log(
    t: &TxRecord,
    index: u64,
    token: &str,
    topics: [Option<String>; 4],
    data: String,
) -> LogRecord {
    let topics_count = topics.iter().filter(|t| t.is_some()).count() as u64;
    let [topic0, topic1, topic2, topic3] = topics;
    LogRecord {
        address: token.into(),
        topic0,
        topic1,
        topic2,
        topic3,
        topics_count,
        data,
        ..fixtures::log(t, index)
    }
}

/// The token logs: ERC-20 (re-published once, and a 2^200 amount), ERC-721, ERC-1155 single
/// and batch, and an ERC-20 transfer in the orphaned block.
pub(crate) fn logs(t4: &TxRecord, t5: &TxRecord, t6: &TxRecord, t7: &TxRecord) -> Vec<LogRecord> {
    let t = || Some(TRANSFER.to_owned());
    let erc20 = log(
        t4,
        0,
        "0xc1",
        [t(), topic(0xa), topic(0xb), None],
        format!("0x{}", word(1_000_000_000_000_000_000)),
    );
    let huge = format!("1{}", "0".repeat(50)); // 2^200
    vec![
        erc20.clone(),
        erc20,
        log(t5, 1, "0xc2", [t(), topic(0xb), topic(0xc), topic(42)], "0x".into()),
        log(t6, 0, "0xc1", [t(), topic(0xa), topic(0xb), None], format!("0x{}", word(5))), // orphaned
        log(
            t7,
            0,
            "0xe1",
            [Some(TRANSFER_SINGLE.into()), topic(0xd), topic(0xa), topic(0xb)],
            format!("0x{}{}", word(7), word(100)),
        ),
        log(
            t7,
            1,
            "0xe1",
            [Some(TRANSFER_BATCH.into()), topic(0xd), topic(0xa), topic(0xc)],
            format!(
                "0x{}{}{}{}{}{}{}{}",
                word(0x40),
                word(0xa0),
                word(2),
                word(1),
                word(2),
                word(2),
                word(10),
                word(20)
            ),
        ),
        log(t7, 2, "0xc1", [t(), topic(0xb), topic(0xc), None], format!("0x{huge:0>64}")),
    ]
}

/// Approvals in block 2 (ERC-20, ERC-721 ApprovalForAll and Approval) and in block 3 a Uniswap
/// V2 swap (1000 token0 in, 1990 token1 out), a V3 swap (500 token0 out, 2000 token1 in,
/// price 2^96, tick -1), a log of an unknown event and an Approval whose data is one byte.
pub(crate) fn decodable_logs(t5: &TxRecord, t7: &TxRecord) -> Vec<LogRecord> {
    let ev = |t: &str| Some(t.to_owned());
    vec![
        log(t5, 2, "0xc1", [ev(APPROVAL), topic(0xa), topic(0xd), None], format!("0x{}", word(5000))),
        log(t5, 3, "0xc2", [ev(APPROVAL_FOR_ALL), topic(0xb), topic(0xe), None], format!("0x{}", word(1))),
        log(t5, 4, "0xc2", [ev(APPROVAL), topic(0xb), topic(0xe), topic(42)], "0x".into()),
        log(
            t7,
            3,
            "0xf1",
            [ev(V2_SWAP), topic(0xd), topic(0xa), None],
            format!("0x{}{}{}{}", word(1000), word(0), word(0), word(1990)),
        ),
        log(
            t7,
            4,
            "0xf2",
            [ev(V3_SWAP), topic(0xd), topic(0xb), None],
            format!(
                "0x{}{}{}{}{}",
                neg_word(500),
                word(2000),
                word(1 << 96),
                word(1_000_000_000_000_000_000),
                neg_word(1)
            ),
        ),
        log(t7, 5, "0xf3", [topic(0x1234), None, None, None], "0x".into()),
        log(t7, 6, "0xc1", [ev(APPROVAL), topic(0xa), topic(0xb), None], "0x12".into()),
    ]
}

/// Bronze as the sink would write it; offsets and arrival times make the order explicit.
/// Day 1 (2023-11-14): blocks 1 and 2. Day 2 (2023-11-15): block 3 (reorged: 0xb3x orphaned),
/// and block 4 an hour later, pre-London (no base fee), with a transaction lacking its receipt.
pub(crate) fn bronze(ctx: &SessionContext) {
    let b1 = block(1, "0xb1", DAY1, "0xm1", 1);
    let b2 = block(2, "0xb2", DAY1 + 12, "0xm2", 2);
    let b3_orphan = block(3, "0xb3x", DAY2, "0xm1", 3);
    let b3 = block(3, "0xb3", DAY2, "0xm2", 3);
    let b4 = BlockRecord { base_fee_per_gas: None, ..block(4, "0xb4", DAY2 + 3600, "0xm1", 0) };
    // transfer(0x…0b, 1e18) and approve(0x…0d, 5000); t7 below is its selector alone.
    let t4_input = format!("0xa9059cbb{}{}", word(0xb), word(1_000_000_000_000_000_000));
    let t5_input = format!("0x095ea7b3{}{}", word(0xd), word(5000));
    let t4 = tx("0xt4", &b2, 0, Some("0xc1"), &t4_input, "0", 1, 30_000, 25);
    let t5 = tx("0xt5", &b2, 1, Some("0xc2"), &t5_input, "0", 1, 40_000, 30);
    let t6 = tx("0xt6", &b3_orphan, 0, Some("0xaa"), "0x", "7", 1, 21_000, 35); // orphaned block
    let t7 = tx("0xt7", &b3, 0, Some("0xc1"), "0xa9059cbb", "0", 1, 25_000, 40);
    let mut logs = logs(&t4, &t5, &t6, &t7);
    logs.extend(decodable_logs(&t5, &t7));
    let txs = vec![
        tx("0xt1", &b1, 0, Some("0xaa"), "0x", "1000000000000000000", 1, 21_000, 15),
        tx("0xt2", &b1, 1, Some("0xab"), "0x", "5", 0, 21_000, 10),
        tx("0xt3", &b1, 2, None, "0x6080", "0", 1, 50_000, 20),
        t4.clone(),
        t4, // re-published
        t5,
        t6,
        t7,
        tx("0xt8", &b3, 1, Some("0xac"), "0x", "123456789012345678901234567890", 1, 21_000, 30),
        tx("0xt9", &b4, 0, Some("0xad"), "0x", "2", 1, 21_000, 50),
        no_receipt(tx("0xta", &b4, 1, Some("0xc3"), "0xdeadbeef00", "0", 1, 0, 0)),
    ];
    // Publication order (seq): 0xb3x, the reorg at 3, then 0xb3. The orphaned 0xb3x arrives
    // last: the follower's sequence, not arrival order, excludes it.
    let b3_orphan = BlockRecord { seq: 3, ..b3_orphan };
    let b3 = BlockRecord { seq: 5, ..b3 };
    let b4 = BlockRecord { seq: 6, ..b4 };
    let blocks = [b1.clone(), b2.clone(), b2, b3, b4, b3_orphan];
    let reorg = ChainEventRecord {
        detected_at: (DAY2 as i64) * 1000 + 5_000,
        seq: 4,
        ..fixtures::reorg("t", 3, vec!["0xb3x".into()], vec!["0xb3".into()])
    };
    register(ctx, &blocks, &txs, &logs, &[reorg]);
}

/// Registers Bronze tables holding `blocks`, `txs`, `logs` and `events`, arriving in that order.
pub(crate) fn register(
    ctx: &SessionContext,
    blocks: &[BlockRecord],
    txs: &[TxRecord],
    logs: &[LogRecord],
    events: &[ChainEventRecord],
) {
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
    push(TopicKind::Logs, logs.iter().map(|l| serde_json::to_vec(l).unwrap()).collect());
    push(TopicKind::ChainEvents, events.iter().map(|e| serde_json::to_vec(e).unwrap()).collect());
    push(TopicKind::Unverified, Vec::new());
    push(TopicKind::RpcUsage, usage().iter().map(|u| serde_json::to_vec(u).unwrap()).collect());
}

/// RPC usage of two keys over two days: one record re-sent by the producer, a 429, a request
/// that got no answer, a 502.
pub(crate) fn usage() -> Vec<RpcUsageRecord> {
    let u = |id: &str, key: &str, method: &str, status: u32, latency: u64, replica: &str, secs: u64| {
        RpcUsageRecord {
            schema_version: chainlake_wire::SCHEMA_VERSION,
            chain: "t".into(),
            id: id.into(),
            key: key.into(),
            provider: key.trim_end_matches("_1").into(),
            method: method.into(),
            http_status: status,
            outcome: match status {
                200 => "ok",
                429 => "throttled",
                0 => "no_answer",
                _ => "http_error",
            }
            .into(),
            latency_ms: latency,
            replica: replica.into(),
            lease_token: 1,
            sent_at: secs as i64 * 1000,
            sent_at_secs: secs as i64,
        }
    };
    let first = u("r1:0:0", "infura_1", "eth_getBlockByNumber", 200, 10, "r1", DAY1 + 1);
    vec![
        first.clone(),
        first, // re-sent
        u("r1:0:1", "infura_1", "eth_getBlockReceipts", 429, 5, "r1", DAY1 + 2),
        u("r2:0:0", "infura_1", "eth_getBlockByNumber", 0, 30, "r2", DAY1 + 3),
        u("r2:0:1", "alchemy_1", "eth_blockNumber", 200, 20, "r2", DAY1 + 4),
        u("r1:0:2", "infura_1", "eth_blockNumber", 502, 40, "r1", DAY2),
    ]
}
