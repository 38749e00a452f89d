-- silver.blocks: the canonical chain, one row per height, typed.
-- Reads bronze.blocks and bronze.chain_events. The chain is the chain of parent-hash links
-- through the latest head the follower announced (its latest block by `seq`; without any,
-- the highest block), walked down and up by canonical_block (medallion/src/canonical): an
-- orphan is never canonical whoever published it and whenever it arrived, and a block
-- re-adopted after A -> B -> A is canonical again. A block a reorg event orphaned that the
-- follower did not announce again after the event is never chosen. A height whose canonical
-- block never reached Bronze (a hole) has no row. Of one block's copies a verified one wins
-- (a hole filled after a flagged copy under chain.verify = warn), then the latest.
-- partition: block_date
WITH copies AS (
  SELECT *, row_number() OVER (
    PARTITION BY chain, hash
    ORDER BY verified DESC, seq DESC, _ingested_at DESC, _kafka_partition DESC, _kafka_offset DESC
  ) AS rn
  FROM bronze.blocks
),
announced AS (
  SELECT chain, hash, max(seq) AS seq FROM bronze.blocks
  WHERE coalesce(publisher, 'follow') = 'follow'
  GROUP BY chain, hash
),
orphaned AS (
  SELECT chain, orphan AS hash, max(seq) AS seq FROM (
    SELECT chain, seq, unnest(orphaned_hashes) AS orphan FROM bronze.chain_events WHERE kind = 'reorg'
  ) AS o
  GROUP BY chain, orphan
),
candidates AS (
  SELECT c.*,
    a.seq AS announced_seq,
    coalesce(o.seq > coalesce(a.seq, -1), false) AS orphaned
  FROM copies AS c
  LEFT JOIN announced AS a ON a.chain = c.chain AND a.hash = c.hash
  LEFT JOIN orphaned AS o ON o.chain = c.chain AND o.hash = c.hash
  WHERE c.rn = 1
),
walked AS (
  SELECT *, canonical_block(number, hash, parent_hash, verified, seq, announced_seq, orphaned)
    OVER (PARTITION BY chain) AS canonical
  FROM candidates
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
FROM walked
WHERE canonical
