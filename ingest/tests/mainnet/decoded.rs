//! Real-time decoding of a recorded mainnet block (18,000,000 with its receipts): every
//! contract call and log becomes one decoded record keyed like its source record; the
//! ERC-20 `Transfer`s carry the words of their raw topics and data.

use alloy::primitives::U256;
use chainlake_decode::Registry;
use chainlake_ingest::crawl::transform::transform_block;
use chainlake_ingest::publish::decoded::decode_bundle;
use chainlake_wire::TxClass;
use serde_json::Value;

use crate::read;

const TRANSFER: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

#[test]
fn block_18000000_decodes_call_by_call_and_log_by_log() {
    let bundle =
        transform_block("mainnet", &read("block-18000000.json"), Some(&read("receipts-18000000.json")))
            .unwrap();
    let decoded = decode_bundle(&Registry::builtin().unwrap(), &bundle);
    let calls: Vec<_> = bundle.txs.iter().filter(|t| t.class == TxClass::ContractCall).collect();
    assert_eq!(decoded.calls.len(), calls.len());
    assert_eq!(decoded.events.len(), bundle.logs.len());
    for (d, t) in decoded.calls.iter().zip(&calls) {
        assert_eq!(d.key(), t.hash);
    }
    let mut transfers = 0;
    for (d, l) in decoded.events.iter().zip(&bundle.logs) {
        assert_eq!(d.key(), l.key());
        if l.topic0.as_deref() == Some(TRANSFER) && l.topics_count == 3 && l.data.len() == 66 {
            let args: Value = serde_json::from_str(d.args.as_deref().unwrap()).unwrap();
            let word = |t: &Option<String>| format!("0x{}", &t.as_deref().unwrap()[26..]);
            assert_eq!(args["from"], word(&l.topic1));
            assert_eq!(args["to"], word(&l.topic2));
            assert_eq!(args["value"], U256::from_str_radix(&l.data[2..], 16).unwrap().to_string());
            transfers += 1;
        }
    }
    assert!(transfers > 10, "{transfers} ERC-20 transfers");
    let decoded_share = decoded.events.iter().filter(|e| e.decode_status == "decoded").count() as f64
        / decoded.events.len() as f64;
    assert!(decoded_share > 0.8, "{decoded_share} of the logs decoded");
    // The records docs/topics.md shows.
    let first_call =
        decoded.calls.iter().find(|c| c.signature.as_deref() == Some("transfer(address,uint256)"));
    println!("{}", serde_json::to_string(&first_call).unwrap());
    println!(
        "{}",
        serde_json::to_string(&decoded.events.iter().find(|e| e.topic0.as_deref() == Some(TRANSFER)))
            .unwrap()
    );
}
