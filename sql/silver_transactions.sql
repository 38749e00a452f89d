-- silver.transactions: every transaction of a Silver block exactly once, with its receipt.
-- Reads bronze.txs_* (the three classes) and silver.blocks; wei values as DECIMAL(38,0).
-- Fees never pretend: without a receipt (has_receipt = false) fee_wei and priority_fee_wei are
-- NULL, not 0. Before London (no base fee) the whole fee goes to the fee recipient.
-- method_selector: the first 4 bytes of a contract call's input (`0x` + 8 hex digits).
-- partition: block_date
--
-- Every transaction of a Silver block exactly once, with its receipt. Partition: `block_date`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | block_number | bigint | height of its block |
-- | block_hash | text | its block |
-- | block_time | timestamp (UTC) | its block's timestamp |
-- | block_date | date | UTC day of `block_time` |
-- | hash | text | transaction hash |
-- | tx_index | bigint | position in the block |
-- | tx_type | bigint | EIP-2718 type (0 legacy, 1 access list, 2 dynamic fee, 3 blob, 4 set code) |
-- | type_known | boolean | false for a type chainlake does not know (kept raw) |
-- | class | text | `native_transfer`, `contract_deploy` or `contract_call` |
-- | from_address | text | sender |
-- | to_address | text | recipient; NULL for a deployment |
-- | value_wei | decimal(38,0) | value sent; NULL if it does not fit (see `value_raw`) |
-- | value_raw | text | value sent, lossless decimal text |
-- | input | text | call data (hex) |
-- | nonce | bigint | sender nonce |
-- | gas_limit | bigint | gas limit of the transaction |
-- | gas_price | decimal(38,0) | legacy gas price (wei) |
-- | max_fee_per_gas | decimal(38,0) | EIP-1559 fee cap |
-- | max_priority_fee_per_gas | decimal(38,0) | EIP-1559 tip cap |
-- | max_fee_per_blob_gas | decimal(38,0) | EIP-4844 blob fee cap |
-- | has_receipt | boolean | false when the provider gave no receipt for it: status and fees are NULL |
-- | status | bigint | 1 success, 0 failure; NULL before Byzantium or without a receipt |
-- | gas_used | bigint | gas used (receipt) |
-- | cumulative_gas_used | bigint | cumulative gas used in the block (receipt) |
-- | effective_gas_price | decimal(38,0) | price paid per gas (receipt) |
-- | contract_address | text | the deployed contract, for a deployment |
-- | logs_count | bigint | logs emitted |
-- | fee_wei | decimal(38,0) | `gas_used × effective_gas_price`; NULL without a receipt |
-- | priority_fee_wei | decimal(38,0) | what the fee recipient got: `gas_used × (effective_gas_price − base fee)`, the whole fee before London; NULL without a receipt |
-- | method_selector | text | the first 4 bytes of a contract call's input (`0x` + 8 hex digits) |
WITH all_txs AS (
  SELECT * FROM bronze.txs_native_transfer
  UNION ALL SELECT * FROM bronze.txs_contract_deploy
  UNION ALL SELECT * FROM bronze.txs_contract_call
),
dedup AS (
  SELECT *, row_number() OVER (
    PARTITION BY chain, block_hash, hash ORDER BY _ingested_at DESC, _kafka_partition DESC, _kafka_offset DESC
  ) AS rn
  FROM all_txs
)
SELECT
  t.chain,
  t.block_number,
  t.block_hash,
  b.block_time,
  b.block_date,
  t.hash,
  t.tx_index,
  t.tx_type,
  t.type_known,
  t.class,
  t."from" AS from_address,
  t."to" AS to_address,
  TRY_CAST(t.value AS DECIMAL(38, 0)) AS value_wei,
  t.value AS value_raw,
  t.input,
  t.nonce,
  t.gas AS gas_limit,
  TRY_CAST(t.gas_price AS DECIMAL(38, 0)) AS gas_price,
  TRY_CAST(t.max_fee_per_gas AS DECIMAL(38, 0)) AS max_fee_per_gas,
  TRY_CAST(t.max_priority_fee_per_gas AS DECIMAL(38, 0)) AS max_priority_fee_per_gas,
  TRY_CAST(t.max_fee_per_blob_gas AS DECIMAL(38, 0)) AS max_fee_per_blob_gas,
  t.has_receipt,
  t.status,
  t.gas_used,
  t.cumulative_gas_used,
  TRY_CAST(t.effective_gas_price AS DECIMAL(38, 0)) AS effective_gas_price,
  t.contract_address,
  t.logs_count,
  CASE WHEN t.has_receipt THEN
    CAST(t.gas_used AS DECIMAL(38, 0)) * TRY_CAST(t.effective_gas_price AS DECIMAL(38, 0))
  END AS fee_wei,
  CASE WHEN t.has_receipt THEN
    CAST(t.gas_used AS DECIMAL(38, 0))
      * (TRY_CAST(t.effective_gas_price AS DECIMAL(38, 0)) - coalesce(b.base_fee_per_gas, 0))
  END AS priority_fee_wei,
  CASE WHEN t.class = 'contract_call' AND length(t.input) >= 10 THEN substr(t.input, 1, 10) END
    AS method_selector
FROM dedup AS t
JOIN silver.blocks AS b ON b.chain = t.chain AND b.hash = t.block_hash
WHERE t.rn = 1
