-- silver.blocks: the canonical chain, one row per height, typed.
-- Reads bronze.blocks and bronze.chain_events. A block hash named in `orphaned_hashes` of a
-- reorg event is excluded unless a later reorg event names it canonical again (`new_hashes`).
-- A height still published more than once (a re-publish after a crash, or a tip replaced
-- before the follower saw the reorg) keeps its latest arrival.
WITH mentions AS (
  SELECT unnest(orphaned_hashes) AS hash, detected_at, false AS canonical
  FROM bronze.chain_events WHERE kind = 'reorg'
  UNION ALL
  SELECT unnest(new_hashes) AS hash, detected_at, true AS canonical
  FROM bronze.chain_events WHERE kind = 'reorg'
),
verdict AS (
  SELECT hash, canonical FROM (
    SELECT hash, canonical,
      row_number() OVER (PARTITION BY hash ORDER BY detected_at DESC, canonical DESC) AS rn
    FROM mentions
  ) AS m
  WHERE rn = 1
),
candidates AS (
  SELECT b.*, row_number() OVER (
    PARTITION BY b.chain, b.number ORDER BY b._ingested_at DESC, b._kafka_partition DESC, b._kafka_offset DESC
  ) AS rn
  FROM bronze.blocks AS b
  LEFT JOIN verdict AS v ON v.hash = b.hash
  WHERE coalesce(v.canonical, true)
)
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
FROM candidates
WHERE rn = 1
