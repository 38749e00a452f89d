//! Unit tests of the provider decisions over real HTTP to scripted in-process providers
//! (test_utils/rpc_fake.rs): a lie is a fault like a 502, a `Retry-After` rests one provider, a
//! provider on another chain is refused, a bogus head is an outlier.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::Providers;
use crate::config::{ProviderConfig, RpcConfig};
use crate::test_utils::flaky::FlakyServer;
use crate::test_utils::rpc_fake::{mainnet, Reply, RpcFake};
use crate::verify::{Check, Reason};
use crate::Error;

const HEIGHT: u64 = 18_000_000;
const TAG: &str = "0x112a880";

fn config(fakes: &[(&RpcFake, &str)]) -> RpcConfig {
    let mut rpc: RpcConfig = crate::config::tests::defaults();
    let (first, rest) = fakes.split_first().unwrap_or_else(|| panic!("a provider"));
    rpc.set_primary(first.0.url.clone(), first.1.into(), String::new());
    rpc.fallbacks = rest
        .iter()
        .map(|(f, name)| ProviderConfig {
            url: f.url.clone(),
            pseudonym: (*name).into(),
            ws_url: String::new(),
        })
        .collect();
    rpc.max_retries = 0;
    rpc.initial_backoff = Duration::from_millis(5);
    rpc.max_backoff = Duration::from_millis(20);
    rpc.head_check_interval = Duration::from_secs(3600);
    rpc.verify_attempts = 3;
    rpc.max_failures = 2;
    rpc.give_up_after = Duration::from_secs(30);
    rpc.max_retry_after = Duration::from_millis(300);
    rpc
}

fn providers(fakes: &[(&RpcFake, &str)]) -> Providers {
    Providers::new("c", &config(fakes)).unwrap_or_else(|e| panic!("{e}"))
}

/// An honest provider of mainnet block 18000000 on chain 1.
fn honest(method: &str, params: &Value) -> Reply {
    match method {
        "eth_chainId" => Reply::Result(json!("0x1")),
        "eth_blockNumber" => Reply::Result(json!(TAG)),
        "eth_getBlockByNumber" if params[0] == TAG => Reply::Result(mainnet("block-18000000.json")),
        "eth_getBlockReceipts" if params[0] == TAG || params[0]["blockHash"].is_string() => {
            Reply::Result(mainnet("receipts-18000000.json"))
        }
        "eth_getBlockByNumber" | "eth_getBlockReceipts" => Reply::Result(Value::Null),
        _ => Reply::Error(-32601, "the method does not exist".into()),
    }
}

/// The honest answers with receipt 3's status flipped (a receipts lie, by number and by hash).
fn receipts_liar(method: &str, params: &Value) -> Reply {
    match (method, honest(method, params)) {
        ("eth_getBlockReceipts", Reply::Result(mut r)) if r.is_array() => {
            r[3]["status"] = json!(if r[3]["status"] == "0x1" { "0x0" } else { "0x1" });
            Reply::Result(r)
        }
        (_, reply) => reply,
    }
}

/// The honest answers with the header's miner changed.
fn header_liar(method: &str, params: &Value) -> Reply {
    match (method, honest(method, params)) {
        ("eth_getBlockByNumber", Reply::Result(mut b)) if b.is_object() => {
            b["miner"] = json!("0x00000000000000000000000000000000000000a1");
            Reply::Result(b)
        }
        (_, reply) => reply,
    }
}

async fn fetch(p: &Providers) -> crate::verify::raw::RawBlock {
    p.fetch_checked(HEIGHT).await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_lie_is_answered_by_the_next_provider() {
    let liar = RpcFake::start(|m, p, _| receipts_liar(m, p)).await;
    let good = RpcFake::start(|m, p, _| honest(m, p)).await;
    let p = providers(&[(&liar, "liar"), (&good, "good")]);
    let raw = fetch(&p).await;
    assert_eq!((raw.check, raw.provider.as_str()), (Check::Verified, "good"));
    assert_eq!(liar.calls("eth_getBlockReceipts"), 2, "by number, then again by block hash");
}

#[tokio::test]
async fn a_liar_is_demoted_as_lying_and_asked_last() {
    let liar = RpcFake::start(|m, p, _| header_liar(m, p)).await;
    let good = RpcFake::start(|m, p, _| honest(m, p)).await;
    let p = providers(&[(&liar, "liar"), (&good, "good")]);
    fetch(&p).await;
    fetch(&p).await; // the second lie reaches max-failures (2): demoted
    let asked = liar.calls("eth_getBlockByNumber");
    assert_eq!(asked, 2);
    assert_eq!(fetch(&p).await.provider, "good");
    assert_eq!(liar.calls("eth_getBlockByNumber"), asked, "a demoted liar is asked after the others");
}

#[tokio::test]
async fn a_lone_liar_is_asked_again_with_backoff_then_the_height_is_given_up() {
    let liar = RpcFake::start(|m, p, _| header_liar(m, p)).await;
    let p = providers(&[(&liar, "liar")]);
    let raw = fetch(&p).await;
    let Check::Rejected { failure, attempts } = raw.check else { panic!("{:?}", raw.check) };
    assert_eq!((failure.reason, attempts), (Reason::HeaderHash, 3));
    assert_eq!(liar.calls("eth_getBlockByNumber"), 3, "rpc.verify-attempts answers");
}

#[tokio::test]
async fn a_transient_lie_is_followed_by_the_truth() {
    let flaky =
        RpcFake::start(
            |m, p, n| if m == "eth_getBlockByNumber" && n < 2 { header_liar(m, p) } else { honest(m, p) },
        )
        .await;
    let p = providers(&[(&flaky, "flaky")]);
    assert_eq!(fetch(&p).await.check, Check::Verified);
}

#[tokio::test]
async fn another_heights_answer_is_a_lie() {
    let shifted = RpcFake::start(|m, p, _| match m {
        "eth_getBlockByNumber" => Reply::Result(mainnet("block-16000000.json")),
        _ => honest(m, p),
    })
    .await;
    let good = RpcFake::start(|m, p, _| honest(m, p)).await;
    let p = providers(&[(&shifted, "shifted"), (&good, "good")]);
    assert_eq!(fetch(&p).await.provider, "good");
    let alone = providers(&[(&shifted, "shifted")]);
    let Check::Rejected { failure, .. } = fetch(&alone).await.check else { panic!("rejected") };
    assert_eq!(failure.reason, Reason::WrongBlock);
}

#[tokio::test]
async fn a_long_retry_after_rests_one_provider_while_the_other_serves() {
    let resting = RpcFake::start(|_, _, _| Reply::Status(429, Some(3000))).await;
    let good = RpcFake::start(|m, p, _| honest(m, p)).await;
    let p = providers(&[(&resting, "resting"), (&good, "good")]);
    for _ in 0..3 {
        assert_eq!(p.head().await.unwrap_or_else(|e| panic!("{e}")), HEIGHT);
    }
    assert_eq!(resting.calls("eth_blockNumber"), 1, "asked once, then left alone");
}

#[tokio::test]
async fn a_lone_provider_is_waited_for_no_longer_than_the_cap() {
    let once =
        RpcFake::start(|m, p, n| if n == 0 { Reply::Status(429, Some(3000)) } else { honest(m, p) }).await;
    let p = providers(&[(&once, "once")]);
    let started = Instant::now();
    assert_eq!(p.head().await.unwrap_or_else(|e| panic!("{e}")), HEIGHT);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(5), "{waited:?}");
}

#[tokio::test]
async fn a_missing_method_or_a_bad_hash_is_asked_of_the_next_provider() {
    let odd = RpcFake::start(|m, p, _| match m {
        "eth_blockNumber" => Reply::Error(-32601, "the method eth_blockNumber does not exist".into()),
        "eth_getBlockByNumber" => Reply::Result(json!({"hash": "0xnot-a-hash"})),
        _ => honest(m, p),
    })
    .await;
    let good = RpcFake::start(|m, p, _| honest(m, p)).await;
    let p = providers(&[(&odd, "odd"), (&good, "good")]);
    assert_eq!(p.head().await.unwrap_or_else(|e| panic!("{e}")), HEIGHT);
    let hash = p.block_hash(HEIGHT).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hash.to_string(), mainnet("block-18000000.json")["hash"].as_str().unwrap_or_default());
}

#[tokio::test]
async fn a_lagging_provider_saying_above_the_head_leaves_the_block_to_the_next() {
    let lagging = RpcFake::start(|m, p, _| match m {
        "eth_blockNumber" => Reply::Result(json!("0x10")),
        "eth_getBlockByNumber" => Reply::Result(Value::Null),
        _ => honest(m, p),
    })
    .await;
    let good = RpcFake::start(|m, p, _| honest(m, p)).await;
    let p = providers(&[(&lagging, "lagging"), (&good, "good")]);
    assert_eq!(fetch(&p).await.provider, "good");
    let alone = providers(&[(&lagging, "lagging")]);
    assert!(matches!(alone.fetch_checked(HEIGHT).await, Err(Error::AboveHead { .. })));
}

#[tokio::test]
async fn a_provider_on_another_chain_is_refused_and_none_on_this_chain_fails_the_start() {
    let other =
        RpcFake::start(|m, p, _| if m == "eth_chainId" { Reply::Result(json!("0x5")) } else { honest(m, p) })
            .await;
    let good = RpcFake::start(|m, p, _| honest(m, p)).await;
    let p = providers(&[(&other, "goerli"), (&good, "good")]);
    p.check_chain_id(1).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fetch(&p).await.provider, "good");
    assert_eq!(other.calls("eth_getBlockByNumber"), 0, "a refused provider is never called");
    let only = providers(&[(&other, "goerli")]);
    let err = only.check_chain_id(1).await.err();
    assert!(
        matches!(&err, Some(Error::WrongChain { found, .. }) if found.contains("goerli answers 5")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_bogus_head_from_one_of_three_is_not_believed() {
    let bogus = RpcFake::start(|m, p, _| match m {
        "eth_blockNumber" => Reply::Result(json!(format!("{:#x}", HEIGHT + 10_000))),
        _ => honest(m, p),
    })
    .await;
    let (b, c) = (RpcFake::start(|m, p, _| honest(m, p)).await, RpcFake::start(|m, p, _| honest(m, p)).await);
    let mut cfg = config(&[(&bogus, "bogus"), (&b, "b"), (&c, "c")]);
    cfg.head_check_interval = Duration::from_millis(1);
    let p = Providers::new("c", &cfg).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.head().await.unwrap_or_else(|e| panic!("{e}")), HEIGHT);
    assert_eq!(p.active().provider(), "b", "the outlier is demoted, the next honest one active");
    let st = p.lock();
    let now = Instant::now();
    assert!(st.is_demoted(0, now) && !st.is_demoted(1, now) && !st.is_demoted(2, now));
}

fn flaky_config(url: &str) -> RpcConfig {
    let mut rpc: RpcConfig = crate::config::tests::defaults();
    rpc.url = url.into();
    rpc.pseudonym = "flaky".into();
    rpc.max_retries = 0;
    rpc.initial_backoff = Duration::from_millis(5);
    rpc.max_backoff = Duration::from_millis(20);
    rpc.head_check_interval = Duration::from_secs(3600);
    rpc
}

/// Seven 500s in a row from the only provider: waited out, then the answer.
#[tokio::test]
async fn transient_failures_are_waited_out_not_fatal() {
    let server = FlakyServer::start(7).await;
    let providers = Providers::new("c", &flaky_config(&server.url)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(providers.head().await.unwrap_or_else(|e| panic!("{e}")), 0x10);
    assert!(server.requests.load(std::sync::atomic::Ordering::SeqCst) >= 8);
}

/// Every provider failing past `give-up-after` is the one fault that stops ingest.
#[tokio::test]
async fn every_provider_down_past_the_deadline_is_an_error() {
    let (a, b) = (FlakyServer::start(usize::MAX).await, FlakyServer::start(usize::MAX).await);
    let mut cfg = flaky_config(&a.url);
    cfg.give_up_after = Duration::from_millis(150);
    cfg.fallbacks = vec![crate::config::ProviderConfig {
        url: b.url.clone(),
        pseudonym: "flaky-b".into(),
        ws_url: String::new(),
    }];
    let providers = Providers::new("c", &cfg).unwrap_or_else(|e| panic!("{e}"));
    let err = providers.head().await.err();
    assert!(matches!(err, Some(Error::ProvidersDown { call: "eth_blockNumber", .. })), "{err:?}");
    let text = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("HTTP error 500"), "the last cause is named: {text}");
    assert!(b.requests.load(std::sync::atomic::Ordering::SeqCst) > 1, "the fallback was tried too");
}

/// Shutdown ends a wait for a provider at once.
#[tokio::test]
async fn cancellation_ends_the_wait() {
    let server = FlakyServer::start(usize::MAX).await;
    let cancel = CancellationToken::new();
    let providers = Providers::new("c", &flaky_config(&server.url))
        .unwrap_or_else(|e| panic!("{e}"))
        .with_cancel(cancel.clone());
    cancel.cancel();
    assert!(matches!(providers.head().await, Err(Error::Cancelled { .. })));
}
