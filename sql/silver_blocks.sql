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
--
-- The canonical chain: one row per height that has a canonical block. One rule decides it, the
-- same for every publisher and every arrival order (`canonical_block`, medallion/src/canonical/):
-- the chain of parent-hash links through the latest head the follower announced (its latest block
-- by `seq`, the one publication order every publisher claims from Redis; without any follower
-- block, the highest block), walked down to lower heights and up to higher ones. An orphan is
-- therefore never canonical, whether a follower, a backfill or a repair published it and whenever
-- it arrived, and a block re-adopted after A → B → A is canonical again. A block a reorg event
-- orphaned, and that the follower did not announce again after that event, is never chosen. A
-- height whose canonical block never reached Bronze (a hole) has no row; where the walk meets one
-- it goes on from the best remaining candidate (verified, then latest), and `chainlake verify`
-- names the height. Of one block's copies a verified one wins (a hole filled after a flagged copy
-- under `chain.verify = warn`). Partition: `block_date`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | number | bigint | height |
-- | hash | text | block hash |
-- | parent_hash | text | parent block hash |
-- | block_time | timestamp (UTC) | block timestamp |
-- | block_date | date | UTC day of `block_time` |
-- | fee_recipient | text | the header's beneficiary (miner / block builder) |
-- | gas_used | bigint | gas used by the block |
-- | gas_limit | bigint | block gas limit |
-- | base_fee_per_gas | decimal(38,0) | base fee (wei per gas); NULL before London |
-- | tx_count | bigint | transactions in the block |
-- | size | bigint | block size in bytes, where the node reports it |
-- | withdrawals_count | bigint | withdrawals (Shanghai and later) |
-- | blob_gas_used | bigint | blob gas used (Cancun and later) |
-- | excess_blob_gas | bigint | excess blob gas (Cancun and later) |
-- | verified | boolean | proven: the height asked for, header hash, transactions, receipts and withdrawals roots, senders and receipt values recomputed from the answer |
--
-- What verification proves of each value, and what it cannot (`verified = true` blocks; the
-- `chain.verify` modes are in docs/configuration.md):
--
-- - proven by the header hash: every header field (`hash`, `parent_hash`, `block_time`,
--   `fee_recipient`, gas, base fee, blob gas, the roots); by the transactions root and each
--   transaction's own hash: every signed field (`to`, `value`, `input`, `nonce`, gas and fee
--   fields, type); by the receipts root: `status`, `cumulative_gas_used`, every log's address,
--   topics and data; by the withdrawals root: the withdrawals;
-- - derived and compared: `from` (the signer recovered from the signature; only the fraction
--   `chain.verify-senders` of each block's transactions when below 1.0 — the others are as the
--   provider said), `gas_used` (the step of `cumulative_gas_used`), `effective_gas_price` (from the
--   fee caps and the base fee), `contract_address` (from the sender and nonce of a deployment, NULL
--   otherwise), positions (`tx_index`, `log_index`, each receipt's and log's block and
--   transaction), a log's `removed` (must be false);
-- - **unproven** (as the provider said): `size` (no root commits to it), an `effective_gas_price` of
--   a dynamic-fee transaction in a block without a base fee, a `contract_address` the provider left
--   out (NULL, never a wrong value).
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
