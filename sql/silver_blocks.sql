-- silver.blocks: the canonical chain, one row per height, typed.
-- Reads bronze.blocks and bronze.chain_events. Order is the follower's publication sequence
-- `seq` (persisted across restarts), never arrival time. A reorg event at height n orphans every
-- block at or above n published before it; the follower then re-publishes the new branch,
-- re-adopted hashes included, after the event. So a block is canonical when no later reorg
-- event starts at or below its height, and of a height's surviving copies the latest wins
-- (arrival time only breaks ties of records published outside a follower, seq = 0).
-- partition: block_date
WITH reorgs AS (
  SELECT chain, number, seq FROM bronze.chain_events WHERE kind = 'reorg'
),
surviving AS (
  SELECT b.* FROM bronze.blocks AS b
  WHERE NOT EXISTS (
    SELECT 1 FROM reorgs AS r WHERE r.chain = b.chain AND r.number <= b.number AND r.seq > b.seq
  )
),
candidates AS (
  SELECT s.*, row_number() OVER (
    PARTITION BY s.chain, s.number
    ORDER BY s.seq DESC, s._ingested_at DESC, s._kafka_partition DESC, s._kafka_offset DESC
  ) AS rn
  FROM surviving AS s
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
  excess_blob_gas,
  verified
FROM candidates
WHERE rn = 1
