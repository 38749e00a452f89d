-- silver.logs: every event log of a Silver block exactly once (canonical only).
-- Reads bronze.logs and silver.blocks. Key: (block_hash, log_index).
-- partition: block_date
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
