//! The header: decoded with alloy, hashed, compared with the `hash` the answer claims.

use alloy::consensus::Header;
use alloy::primitives::B256;
use serde_json::Value;

use super::verdict::{decode, hash_field, Checked, Failure, Reason};

/// The header decoded with alloy, and its hash, which must equal the `hash` field.
pub fn verify_header(block: &Value) -> Checked<(Header, B256)> {
    let header: Header = decode(block, "header")?;
    let claimed = hash_field(block, "hash", "header")?;
    let computed = header.hash_slow();
    if computed != claimed {
        return Err(Failure::mismatch(Reason::HeaderHash, "header hash", claimed, computed));
    }
    Ok((header, claimed))
}
