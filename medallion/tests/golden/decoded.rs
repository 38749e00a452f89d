//! Golden tests of the decoding SQL (decoded_calls, decoded_events, dex_swaps, approvals,
//! top_methods_daily, dex_volume_daily). Every expected value follows from how the golden
//! Bronze was built (golden/bronze.rs: the words each call and log carries), not from the
//! decoder: the addresses are the topics' words, the amounts the data words.

use super::*;

fn a(n: u128) -> String {
    addr(n)
}

#[tokio::test]
async fn silver_decoded_calls() {
    let b = run("SELECT block_number, tx_index, contract, decode_status, method, signature, origin, args, \
         decode_error IS NOT NULL AS has_error FROM silver.decoded_calls ORDER BY block_number, tx_index")
    .await;
    let expected = table(&format!(
        r#"
        block_number | tx_index | contract | decode_status | method | signature | origin | args | has_error
        2 | 0 | 0xc1 | decoded | transfer | transfer(address,uint256) | abi:erc20 | {{"_to":"{b}","_value":"1000000000000000000"}} | false
        2 | 1 | 0xc2 | decoded | approve | approve(address,uint256) | abi:erc20 | {{"_spender":"{d}","_value":"5000"}} | false
        3 | 0 | 0xc1 | failed | transfer | transfer(address,uint256) | abi:erc20 |  | true
        4 | 1 | 0xc3 | unknown |  |  |  |  | false
        "#,
        b = a(0xb),
        d = a(0xd),
    ));
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn silver_decoded_events() {
    let b = run(
        "SELECT block_number, log_index, decode_status, signature, origin, args FROM silver.decoded_events \
         ORDER BY block_number, log_index",
    )
    .await;
    let (ta, tb, tc, td, te) = (a(0xa), a(0xb), a(0xc), a(0xd), a(0xe));
    let transfer = "Transfer(address,address,uint256)";
    let approval = "Approval(address,address,uint256)";
    let expected = table(&format!(
        r#"
        block_number | log_index | decode_status | signature | origin | args
        2 | 0 | decoded | {transfer} | abi:erc20 | {{"from":"{ta}","to":"{tb}","value":"1000000000000000000"}}
        2 | 1 | decoded | {transfer} | abi:erc721 | {{"from":"{tb}","to":"{tc}","tokenId":"42"}}
        2 | 2 | decoded | {approval} | abi:erc20 | {{"owner":"{ta}","spender":"{td}","value":"5000"}}
        2 | 3 | decoded | ApprovalForAll(address,address,bool) | abi:erc721 | {{"owner":"{tb}","operator":"{te}","approved":true}}
        2 | 4 | decoded | {approval} | abi:erc721 | {{"owner":"{tb}","approved":"{te}","tokenId":"42"}}
        3 | 0 | decoded | TransferSingle(address,address,address,uint256,uint256) | abi:erc1155 | {{"operator":"{td}","from":"{ta}","to":"{tb}","id":"7","value":"100"}}
        3 | 1 | decoded | TransferBatch(address,address,address,uint256[],uint256[]) | abi:erc1155 | {{"operator":"{td}","from":"{ta}","to":"{tc}","ids":["1","2"],"values":["10","20"]}}
        3 | 2 | decoded | {transfer} | abi:erc20 | {{"from":"{tb}","to":"{tc}","value":"{HUGE}"}}
        3 | 3 | decoded | Swap(address,uint256,uint256,uint256,uint256,address) | abi:uniswap-v2-pair | {{"sender":"{td}","amount0In":"1000","amount1In":"0","amount0Out":"0","amount1Out":"1990","to":"{ta}"}}
        3 | 4 | decoded | Swap(address,address,int256,int256,uint160,uint128,int24) | abi:uniswap-v3-pool | {{"sender":"{td}","recipient":"{tb}","amount0":"-500","amount1":"2000","sqrtPriceX96":"79228162514264337593543950336","liquidity":"1000000000000000000","tick":"-1"}}
        3 | 5 | unknown |  |  |
        3 | 6 | failed | {approval} | abi:erc20 |
        "#
    ));
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn silver_dex_swaps() {
    let b = run(
        "SELECT log_index, protocol, pool, sender, recipient, amount0_in, amount1_in, amount0_out, amount1_out, \
         amount1_out_decimal, sqrt_price_x96, liquidity, tick FROM silver.dex_swaps ORDER BY log_index",
    )
    .await;
    let expected = table(&format!(
        "
        log_index | protocol | pool | sender | recipient | amount0_in | amount1_in | amount0_out | amount1_out | amount1_out_decimal | sqrt_price_x96 | liquidity | tick
        3 | uniswap_v2 | 0xf1 | {d} | {a} | 1000 | 0 | 0 | 1990 | 1990 |  |  |
        4 | uniswap_v3 | 0xf2 | {d} | {b} | 0 | 2000 | 500 | 0 | 0 | 79228162514264337593543950336 | 1000000000000000000 | -1
        ",
        a = a(0xa),
        b = a(0xb),
        d = a(0xd),
    ));
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn silver_approvals() {
    // The Approval with one byte of data (log 6 of block 3) did not decode: not an approval row.
    let b = run(
        "SELECT block_number, log_index, token, standard, kind, owner, spender, value, value_decimal, token_id, approved \
         FROM silver.approvals ORDER BY block_number, log_index",
    )
    .await;
    let expected = table(&format!(
        "
        block_number | log_index | token | standard | kind | owner | spender | value | value_decimal | token_id | approved
        2 | 2 | 0xc1 | erc20 | approval | {a} | {d} | 5000 | 5000 |  |
        2 | 3 | 0xc2 | erc721_or_erc1155 | approval_for_all | {b} | {e} |  |  |  | true
        2 | 4 | 0xc2 | erc721 | approval | {b} | {e} |  |  | 42 |
        ",
        a = a(0xa),
        b = a(0xb),
        d = a(0xd),
        e = a(0xe),
    ));
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn gold_top_methods_daily() {
    // Day 1: transfer and approve once each (a tie: both rank 1). Day 2: the call carrying its
    // selector alone and the unknown 0xdeadbeef, both by selector, not decoded.
    let b = run(
        "SELECT day, method, decoded, calls, failed, callers, contracts, rank FROM gold.top_methods_daily",
    )
    .await;
    let expected = table(
        "
        day | method | decoded | calls | failed | callers | contracts | rank
        2023-11-14 | approve(address,uint256) | true | 1 | 0 | 1 | 1 | 1
        2023-11-14 | transfer(address,uint256) | true | 1 | 0 | 1 | 1 | 1
        2023-11-15 | 0xa9059cbb | false | 1 | 0 | 1 | 1 | 1
        2023-11-15 | 0xdeadbeef | false | 1 | 0 | 1 | 1 | 1
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}

#[tokio::test]
async fn gold_dex_volume_daily() {
    let b = run(
        "SELECT day, protocol, pool, token_index, swaps, amount_in, amount_out, senders, recipients FROM gold.dex_volume_daily",
    )
    .await;
    let expected = table(
        "
        day | protocol | pool | token_index | swaps | amount_in | amount_out | senders | recipients
        2023-11-15 | uniswap_v2 | 0xf1 | 0 | 1 | 1000.0 | 0.0 | 1 | 1
        2023-11-15 | uniswap_v2 | 0xf1 | 1 | 1 | 0.0 | 1990.0 | 1 | 1
        2023-11-15 | uniswap_v3 | 0xf2 | 0 | 1 | 0.0 | 500.0 | 1 | 1
        2023-11-15 | uniswap_v3 | 0xf2 | 1 | 1 | 2000.0 | 0.0 | 1 | 1
        ",
    );
    assert_batches_eq!(expected.iter().map(String::as_str).collect::<Vec<_>>(), &b);
}
