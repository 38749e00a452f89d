-- silver.blocks: one row per height, typed. Reads bronze.blocks.
-- A height published more than once (re-publish after a crash, or a reorg) keeps its latest
-- arrival; reorg-aware selection through chain events replaces this rule in a later version.
SELECT
  chain,
  number,
  hash,
  parent_hash,
  to_timestamp_seconds(timestamp) AS block_time,
  CAST(to_timestamp_seconds(timestamp) AS DATE) AS block_date,
  miner AS fee_recipient,
  gas_used,
  gas_limit,
  TRY_CAST(base_fee_per_gas AS DECIMAL(38, 0)) AS base_fee_per_gas,
  tx_count,
  size,
  withdrawals_count,
  blob_gas_used,
  excess_blob_gas
FROM (
  SELECT *, row_number() OVER (
    PARTITION BY chain, number ORDER BY _ingested_at DESC, _kafka_partition DESC, _kafka_offset DESC
  ) AS rn
  FROM bronze.blocks
) AS b
WHERE rn = 1
