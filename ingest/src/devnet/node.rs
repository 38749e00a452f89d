//! The node the generators drive: a client with its dev accounts, automine off. Imports no
//! sibling.

use alloy::primitives::Address;
use alloy::rpc::client::{ClientBuilder, RpcClient};

use crate::{Error, Result};

pub(crate) fn rpc_err(what: &str) -> impl FnOnce(alloy::transports::TransportError) -> Error + '_ {
    move |e| Error::devnet(what, e)
}

/// A client of the node at `rpc_url` with its 10 unlocked dev accounts, automine switched off
/// (the generators mine blocks themselves so that many transactions share one).
pub(crate) async fn manual_mining(rpc_url: &str) -> Result<(RpcClient, Vec<Address>)> {
    let client = ClientBuilder::default()
        .http(rpc_url.parse().map_err(|e: url::ParseError| Error::devnet("rpc url", e))?);
    let accounts: Vec<Address> =
        client.request_noparams("eth_accounts").await.map_err(rpc_err("eth_accounts"))?;
    if accounts.len() < 10 {
        return Err(Error::devnet("eth_accounts", "need 10 unlocked dev accounts (anvil)"));
    }
    let _: serde_json::Value =
        client.request("evm_setAutomine", (false,)).await.map_err(rpc_err("evm_setAutomine"))?;
    Ok((client, accounts))
}
