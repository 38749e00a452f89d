//! Real-time decoding: as the crawler publishes a block, each of its contract calls and logs is
//! decoded with the ABI registry (chainlake-decode, the same pure functions the medallion's SQL
//! calls) and published on `{chain}.decoded.calls` / `{chain}.decoded.events` in the same batch
//! as the block's records, keyed like them. A subscriber sees a block's decoded events as soon as
//! the block is in Kafka; reorgs reach it as for every topic (the orphaned block's keys, then
//! the new branch's). Anything that does not decode is published with its status and reason,
//! counted, and logged with its coordinates.

use chainlake_decode::value::{unhex, ArgsObject};
use chainlake_decode::{Decoded, Registry, Status};
use chainlake_wire::{
    BlockBundle, DecodedBundle, DecodedCallRecord, DecodedEventRecord, TxClass, SCHEMA_VERSION,
};

/// The decoded calls and events of `bundle`.
pub fn decode_bundle(registry: &Registry, bundle: &BlockBundle) -> DecodedBundle {
    let mut out = DecodedBundle::default();
    for tx in bundle.txs.iter().filter(|t| t.class == TxClass::ContractCall) {
        let Some(to) = &tx.to else { continue };
        let d = match unhex(&tx.input) {
            Some(bytes) => registry.decode_call(to.parse().ok().as_ref(), &bytes),
            None => Some(Decoded::failed("input is not hex")),
        };
        let Some(d) = d else { continue };
        count_and_log("call", &d, &tx.chain, tx.block_number, &tx.hash, None);
        out.calls.push(DecodedCallRecord {
            schema_version: SCHEMA_VERSION,
            chain: tx.chain.clone(),
            block_number: tx.block_number,
            block_hash: tx.block_hash.clone(),
            block_timestamp: tx.block_timestamp,
            tx_hash: tx.hash.clone(),
            tx_index: tx.tx_index,
            from: tx.from.clone(),
            to: to.clone(),
            method_selector: tx.input.get(..10).filter(|_| tx.input.len() >= 10).map(str::to_owned),
            decode_status: d.status.as_str().to_owned(),
            args: args(&d),
            candidates: candidates(&d),
            origin: d.origin.as_ref().map(|o| o.label()),
            method: d.name,
            signature: d.signature,
            decode_error: d.error,
        });
    }
    for log in &bundle.logs {
        let d = event(registry, log);
        count_and_log("event", &d, &log.chain, log.block_number, &log.tx_hash, Some(log.log_index));
        out.events.push(DecodedEventRecord {
            schema_version: SCHEMA_VERSION,
            chain: log.chain.clone(),
            block_number: log.block_number,
            block_hash: log.block_hash.clone(),
            block_timestamp: log.block_timestamp,
            tx_hash: log.tx_hash.clone(),
            tx_index: log.tx_index,
            log_index: log.log_index,
            address: log.address.clone(),
            topic0: log.topic0.clone(),
            decode_status: d.status.as_str().to_owned(),
            args: args(&d),
            candidates: candidates(&d),
            origin: d.origin.as_ref().map(|o| o.label()),
            event: d.name,
            signature: d.signature,
            decode_error: d.error,
        });
    }
    out
}

fn event(registry: &Registry, log: &chainlake_wire::LogRecord) -> Decoded {
    let mut topics = Vec::with_capacity(4);
    for t in [&log.topic0, &log.topic1, &log.topic2, &log.topic3].into_iter().flatten() {
        match unhex(t).and_then(|b| alloy::primitives::B256::try_from(b.as_slice()).ok()) {
            Some(t) => topics.push(t),
            None => return Decoded::failed("a topic is not 32 bytes of hex"),
        }
    }
    let Some(data) = unhex(&log.data) else { return Decoded::failed("data is not hex") };
    registry.decode_event(log.address.parse().ok().as_ref(), &topics, &data)
}

fn args(d: &Decoded) -> Option<String> {
    (d.status == Status::Decoded).then(|| serde_json::to_string(&ArgsObject(&d.args)).ok()).flatten()
}

fn candidates(d: &Decoded) -> Option<String> {
    (!d.candidates.is_empty()).then(|| d.candidates.join("; "))
}

/// Counts every result by status; logs what failed (a matching signature the bytes do not fit).
fn count_and_log(kind: &'static str, d: &Decoded, chain: &str, block: u64, tx: &str, log_index: Option<u64>) {
    let status = d.status.as_str();
    metrics::counter!(crate::metrics::DECODED_PUBLISHED, "chain" => chain.to_owned(), "kind" => kind, "status" => status)
        .increment(1);
    if d.status == Status::Failed {
        tracing::warn!(chain, block, tx, log_index, signature = ?d.signature, reason = ?d.error, "{kind} did not decode");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chainlake_wire::fixtures;

    #[test]
    fn a_bundle_s_calls_and_logs_are_decoded_and_keyed_like_their_records() {
        let b = fixtures::block("t", 7, 1_700_000_000);
        let input = format!("0xa9059cbb{:064x}{:064x}", 0xb, 5);
        let call = fixtures::call(&b, 0, Some("0x00000000000000000000000000000000000000c1"), &input);
        let short = fixtures::call(&b, 1, Some("0x00000000000000000000000000000000000000c1"), "0xa9059cbb");
        let transfer = chainlake_wire::LogRecord {
            topic0: Some("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef".into()),
            topic1: Some(format!("0x{:064x}", 0xa)),
            topic2: Some(format!("0x{:064x}", 0xb)),
            topics_count: 3,
            data: format!("0x{:064x}", 5),
            ..fixtures::log(&call, 0)
        };
        let bundle = BlockBundle { block: b, txs: vec![call.clone(), short], logs: vec![transfer.clone()] };
        let d = decode_bundle(&Registry::builtin().unwrap(), &bundle);
        assert_eq!(d.calls.len(), 2);
        assert_eq!(d.calls[0].key(), call.hash);
        assert_eq!(d.calls[0].signature.as_deref(), Some("transfer(address,uint256)"));
        assert_eq!(
            d.calls[0].args.as_deref(),
            Some(format!(r#"{{"_to":"0x{:040x}","_value":"5"}}"#, 0xb).as_str())
        );
        assert_eq!((d.calls[1].decode_status.as_str(), d.calls[1].args.as_deref()), ("failed", None));
        assert!(d.calls[1].decode_error.is_some());
        assert_eq!(d.events[0].key(), transfer.key());
        assert_eq!(d.events[0].decode_status, "decoded");
        assert_eq!(d.events[0].origin.as_deref(), Some("abi:erc20"));
    }
}
