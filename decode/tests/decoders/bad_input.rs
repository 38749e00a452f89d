//! Bad input is kept and flagged, never a crash: malformed call input, data of the wrong
//! length, topics of the wrong number, a selector two registered ABIs declare differently,
//! and random bytes into both decoders (proptest: 0 panics).

use alloy_primitives::{keccak256, Address, B256};
use chainlake_decode::{AbiConfig, Binding, Registry, Status};
use proptest::prelude::*;

fn transfer_topic() -> B256 {
    keccak256("Transfer(address,address,uint256)")
}

#[test]
fn a_short_or_truncated_call_fails_with_a_reason() {
    let r = Registry::builtin().unwrap();
    let d = r.decode_call(None, &[0xa9, 0x05]).unwrap();
    assert_eq!(
        (d.status, d.error.as_deref()),
        (Status::Failed, Some("input of 2 bytes is shorter than a selector"))
    );
    // transfer(address,uint256) with one argument word instead of two.
    let mut input = vec![0xa9, 0x05, 0x9c, 0xbb];
    input.extend([0u8; 32]);
    let d = r.decode_call(None, &input).unwrap();
    assert_eq!(d.status, Status::Failed, "{d:?}");
    assert_eq!(d.signature.as_deref(), Some("transfer(address,uint256)"));
    assert!(d.error.is_some_and(|e| e.contains("32 bytes")));
    assert!(r.decode_call(None, &[]).is_none(), "no input, no call");
}

#[test]
fn an_unknown_selector_or_topic_is_unknown_not_guessed() {
    let r = Registry::builtin().unwrap();
    assert_eq!(r.decode_call(None, &[0xff, 0xee, 0xdd, 0xcc, 1]).unwrap().status, Status::Unknown);
    assert_eq!(r.decode_event(Some(&Address::ZERO), &[B256::repeat_byte(7)], &[]).status, Status::Unknown);
    assert_eq!(r.decode_event(Some(&Address::ZERO), &[], &[1, 2]).status, Status::Unknown);
}

#[test]
fn wrong_length_data_and_a_wrong_topic_count_fail_with_a_reason() {
    let r = Registry::builtin().unwrap();
    let t = [transfer_topic(), B256::ZERO, B256::ZERO];
    let d = r.decode_event(Some(&Address::ZERO), &t, &[0u8; 16]);
    assert_eq!(d.status, Status::Failed, "{d:?}");
    assert_eq!(d.name.as_deref(), Some("Transfer"));
    let five = [transfer_topic(), B256::ZERO, B256::ZERO, B256::ZERO, B256::ZERO];
    let d = r.decode_event(Some(&Address::ZERO), &five, &[]);
    assert_eq!(d.status, Status::Failed, "{d:?}");
    assert!(d.error.is_some_and(|e| e.contains("indexed inputs")));
}

#[test]
fn a_selector_two_abis_declare_differently_keeps_both_candidates() {
    // A well-known 4-byte collision: ERC-20 transferFrom and gasprice_bit_ether(int128).
    assert_eq!(
        keccak256("transferFrom(address,address,uint256)")[..4],
        keccak256("gasprice_bit_ether(int128)")[..4]
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("odd.json"),
        r#"[{"type":"function","name":"gasprice_bit_ether","inputs":[{"name":"x","type":"int128"}],"outputs":[],"stateMutability":"view"}]"#,
    )
    .unwrap();
    let cfg = AbiConfig { dir: dir.path().to_owned(), signatures: false, ..AbiConfig::default() };
    let r = Registry::load(&cfg, "eth").unwrap();
    let mut input = keccak256("transferFrom(address,address,uint256)")[..4].to_vec();
    input.extend([0u8; 96]);
    let d = r.decode_call(None, &input).unwrap();
    assert_eq!(d.status, Status::Ambiguous, "{d:?}");
    assert_eq!(
        d.candidates,
        vec!["gasprice_bit_ether(int128)".to_owned(), "transferFrom(address,address,uint256)".to_owned()]
    );
    assert!(d.args.is_empty() && d.name.is_none());
}

#[test]
fn a_bound_contract_is_decoded_with_its_abi_first() {
    let weth: Address = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2".parse().unwrap();
    let cfg = AbiConfig {
        dir: "/nonexistent".into(),
        contracts: vec![Binding { address: format!("{weth}"), abi: "weth9".into(), chain: None }],
        signatures: true,
        publish: true,
    };
    let r = Registry::load(&cfg, "eth").unwrap();
    let mut data = [0u8; 32];
    data[31] = 5;
    let t = [transfer_topic(), B256::ZERO, B256::ZERO];
    let bound = r.decode_event(Some(&weth), &t, &data);
    assert_eq!(bound.origin.map(|o| o.label()).as_deref(), Some("bound:weth9"));
    assert_eq!(bound.args[2].name, "wad");
    let other = r.decode_event(Some(&Address::ZERO), &t, &data);
    assert_eq!(other.origin.map(|o| o.label()).as_deref(), Some("abi:erc20"));
    assert_eq!((other.args[2].name.as_str(), other.args[2].text()), ("value", "5".to_owned()));
}

#[test]
fn lookup_finds_registered_and_database_signatures() {
    let r = Registry::builtin().unwrap();
    let c = r.lookup("0xa9059cbb").unwrap();
    assert_eq!(c[0].signature, "transfer(address _to, uint256 _value)");
    assert!(c.iter().all(|x| x.kind == "function"));
    let e = r.lookup(&format!("{}", transfer_topic())).unwrap();
    assert!(e.iter().any(|x| x.signature.contains("uint256 indexed tokenId")), "{e:?}");
    assert!(r.lookup("0x12").is_none());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_either_decoder(
        input in proptest::collection::vec(any::<u8>(), 0..300),
        selector in prop::sample::select(vec![[0xa9u8, 0x05, 0x9c, 0xbb], [0x38, 0xed, 0x17, 0x39], [0x41, 0x4b, 0xf3, 0x89], [0xac, 0x96, 0x50, 0xd8]]),
        topics in proptest::collection::vec(any::<[u8; 32]>(), 0..5),
        known_topic0 in any::<bool>(),
        data in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let r = registry();
        let mut call = selector.to_vec();
        call.extend(&input);
        let _ = r.decode_call(None, &call);
        let _ = r.decode_call(Some(&Address::ZERO), &input);
        let mut topics: Vec<B256> = topics.into_iter().map(B256::from).collect();
        if known_topic0 && !topics.is_empty() {
            topics[0] = transfer_topic();
        }
        let d = r.decode_event(Some(&Address::ZERO), &topics, &data);
        prop_assert!(d.status != Status::Decoded || d.args.len() <= 8);
    }
}

fn registry() -> &'static Registry {
    static R: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    R.get_or_init(|| Registry::builtin().unwrap())
}
