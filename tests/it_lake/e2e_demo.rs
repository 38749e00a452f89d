//! End to end on real services: a fresh anvil with generated traffic (real ERC20 and
//! Uniswap V2 contracts) → ingest → tansu → Bronze → Silver → Gold; Gold must equal the
//! generator's ledger exactly.

use crate::common;

use chainlake_ingest::devnet::TrafficConfig;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gold_equals_the_traffic_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config("e2e", dir.path().to_str().unwrap());
    let traffic = TrafficConfig { blocks: 10, txs_per_block: 16 };
    let report = chainlake::demo::demo(&mut cfg, &traffic, &CancellationToken::new()).await.unwrap();

    let l = &report.ledger;
    // The traffic is realistic enough to mean something.
    assert!(l.native_transfers >= 40, "{l:?}");
    assert!(l.deploys >= 5 + 4, "tokens, WETH, factory, router and traffic deploys: {l:?}");
    assert!(l.calls_by_contract.len() >= 4, "tokens, router and more: {l:?}");
    assert_eq!(l.txs, 9 + 10 * 16);
    assert!(l.erc20_transfers >= 40, "token transfers, swaps, mints: {l:?}");

    // Exact equality: counts (transactions per class and per hour), wei sum, deploys, calls
    // per contract, ERC-20 Transfer events (token transfers), last block.
    assert_eq!(report.gold, report.ledger);
    assert_eq!(report.sink.rejected, 0);
    assert_eq!(report.crawl.blocks, l.last_block + 1, "every height from genesis to head");

    // Decoding: the generator's calls by method, its transfer arguments, swaps and deposits
    // are all in `report.gold == report.ledger` above; they must mean something.
    assert!(l.methods.len() >= 6 && l.v2_swaps >= 10 && l.weth_deposits >= 10, "{l:?}");
    assert!(l.methods.keys().all(|m| m.contains('(')), "every call encoded from a known ABI: {l:?}");
    // Real time: every call and log also went out decoded, keyed like its source record.
    let count = |sql: &str| {
        let sql = sql.to_owned();
        let cfg = cfg.clone();
        async move {
            chainlake::pipeline::rows(&chainlake::pipeline::query(&cfg, &sql).await.unwrap()).unwrap()[0][0]
                .clone()
        }
    };
    let published_calls = count("SELECT count(DISTINCT _kafka_key) FROM bronze.decoded_calls").await;
    assert_eq!(published_calls, l.calls.to_string());
    let logs = count("SELECT count(*) FROM silver.logs").await;
    assert_eq!(count("SELECT count(DISTINCT _kafka_key) FROM bronze.decoded_events").await, logs);
    let undecoded =
        count("SELECT count(*) FROM bronze.decoded_events WHERE decode_status <> 'decoded'").await;
    assert_eq!(undecoded, "0", "every log of the traffic is of a built-in ABI");

    // RPC economy: 2 requests per block plus head polls and the chain id check.
    let per_block = report.rpc_requests as f64 / report.crawl.blocks as f64;
    assert!(per_block < 3.0, "requests per block {per_block}");

    // The CLI reads the same lake by table name.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chainlake"))
        .args(["query", "SELECT CAST(sum(transfers) AS VARCHAR) AS n FROM gold.native_transfers_daily"])
        .env("CHAINLAKE__LAKE__ROOT", &cfg.lake.root)
        .env("CHAINLAKE__METRICS__LISTEN", "")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("| {} ", l.native_transfers)), "{stdout}");
}
