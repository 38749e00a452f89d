//! The ABIs compiled into chainlake (decode/abi/, provenance in its README.md), by name.

/// (name, JSON) of every built-in ABI, in priority order: when two ABIs declare one signature,
/// the first names its parameters (the standards before the contracts implementing them).
pub(crate) const ABIS: &[(&str, &str)] = &[
    ("erc20", include_str!("../abi/erc20.json")),
    ("erc721", include_str!("../abi/erc721.json")),
    ("erc1155", include_str!("../abi/erc1155.json")),
    ("weth9", include_str!("../abi/weth9.json")),
    ("erc20-name-bytes32", include_str!("../abi/erc20-name-bytes32.json")),
    ("erc20-symbol-bytes32", include_str!("../abi/erc20-symbol-bytes32.json")),
    ("uniswap-v2-pair", include_str!("../abi/uniswap-v2-pair.json")),
    ("uniswap-v2-factory", include_str!("../abi/uniswap-v2-factory.json")),
    ("uniswap-v2-router02", include_str!("../abi/uniswap-v2-router02.json")),
    ("uniswap-v3-pool", include_str!("../abi/uniswap-v3-pool.json")),
    ("uniswap-v3-factory", include_str!("../abi/uniswap-v3-factory.json")),
    ("uniswap-v3-swaprouter", include_str!("../abi/uniswap-v3-swaprouter.json")),
    (
        "uniswap-v3-nonfungible-position-manager",
        include_str!("../abi/uniswap-v3-nonfungible-position-manager.json"),
    ),
];
