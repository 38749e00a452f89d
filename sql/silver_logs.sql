-- silver.logs: every event log of a Silver block exactly once (canonical only).
-- Reads bronze.logs and silver.blocks. Key: (block_hash, log_index).
-- partition: block_date
--
-- Every event log of a Silver block exactly once. Key `(block_hash, log_index)`. Partition:
-- `block_date`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | block_number | bigint | height |
-- | block_hash | text | its block |
-- | block_time | timestamp (UTC) | its block's timestamp |
-- | block_date | date | UTC day of `block_time` |
-- | tx_hash | text | the transaction that emitted it |
-- | tx_index | bigint | that transaction's position |
-- | log_index | bigint | position in the block |
-- | address | text | emitting contract |
-- | topic0 | text | event signature hash (NULL for anonymous events) |
-- | topic1 | text | first indexed argument |
-- | topic2 | text | second indexed argument |
-- | topic3 | text | third indexed argument |
-- | topics_count | bigint | number of topics (0–4) |
-- | data | text | non-indexed arguments (hex) |
WITH dedup AS (
  SELECT *, row_number() OVER (
    PARTITION BY chain, block_hash, log_index ORDER BY _ingested_at DESC, _kafka_partition DESC, _kafka_offset DESC
  ) AS rn
  FROM bronze.logs
)
SELECT
  l.chain,
  l.block_number,
  l.block_hash,
  b.block_time,
  b.block_date,
  l.tx_hash,
  l.tx_index,
  l.log_index,
  l.address,
  l.topic0,
  l.topic1,
  l.topic2,
  l.topic3,
  l.topics_count,
  l.data
FROM dedup AS l
JOIN silver.blocks AS b ON b.chain = l.chain AND b.hash = l.block_hash
WHERE l.rn = 1
