-- silver.approvals: token approvals from the decoded canonical logs. Reads
-- silver.decoded_events. kind: approval (ERC-20 Approval(owner, spender, value), told from
-- ERC-721 Approval(owner, approved, tokenId) by its indexed inputs: 2 vs 3) or
-- approval_for_all (ApprovalForAll(owner, operator, approved), ERC-721 and ERC-1155 alike:
-- standard erc721_or_erc1155). spender: the approved spender or operator. value: the ERC-20
-- allowance (lossless text, DECIMAL(38,0) where it fits); token_id: the ERC-721 token;
-- approved: for approval_for_all, granted (true) or revoked. Only fully decoded logs.
-- Key: (block_hash, log_index).
-- partition: block_date
--
-- Token approvals from `silver.decoded_events` (fully decoded logs only): ERC-20
-- `Approval(owner, spender, value)` and ERC-721 `Approval(owner, approved, tokenId)` — the same
-- topic0, told apart by the indexed inputs — and `ApprovalForAll(owner, operator, approved)`
-- (ERC-721 and ERC-1155 alike). Key `(block_hash, log_index)`. Partition: `block_date`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | block_number | bigint | height |
-- | block_hash | text | its block |
-- | block_time | timestamp (UTC) | its block's timestamp |
-- | block_date | date | UTC day of `block_time` |
-- | tx_hash | text | the transaction |
-- | tx_index | bigint | its position |
-- | log_index | bigint | the log |
-- | token | text | the token contract |
-- | standard | text | `erc20`, `erc721` or `erc721_or_erc1155` (`ApprovalForAll`) |
-- | kind | text | `approval` or `approval_for_all` |
-- | owner | text | the owner granting |
-- | spender | text | the approved spender or operator |
-- | value | text | ERC-20 allowance, lossless decimal text |
-- | value_decimal | decimal(38,0) | `value` where it fits |
-- | token_id | text | ERC-721 token approved |
-- | approved | boolean | `approval_for_all`: granted (true) or revoked |
SELECT
  chain,
  block_number,
  block_hash,
  block_time,
  block_date,
  tx_hash,
  tx_index,
  log_index,
  address AS token,
  CASE
    WHEN signature = 'ApprovalForAll(address,address,bool)' THEN 'erc721_or_erc1155'
    WHEN topic3 IS NULL THEN 'erc20'
    ELSE 'erc721'
  END AS standard,
  CASE WHEN signature = 'ApprovalForAll(address,address,bool)' THEN 'approval_for_all' ELSE 'approval' END AS kind,
  arg_values[1] AS owner,
  arg_values[2] AS spender,
  CASE WHEN signature = 'Approval(address,address,uint256)' AND topic3 IS NULL THEN arg_values[3] END AS value,
  CASE WHEN signature = 'Approval(address,address,uint256)' AND topic3 IS NULL
    THEN TRY_CAST(arg_values[3] AS DECIMAL(38, 0)) END AS value_decimal,
  CASE WHEN signature = 'Approval(address,address,uint256)' AND topic3 IS NOT NULL THEN arg_values[3] END AS token_id,
  CASE WHEN signature = 'ApprovalForAll(address,address,bool)' THEN arg_values[3] = 'true' END AS approved
FROM silver.decoded_events
WHERE decode_status = 'decoded'
  AND signature IN ('Approval(address,address,uint256)', 'ApprovalForAll(address,address,bool)')
