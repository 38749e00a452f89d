-- silver.chain_reorgs: every reorg the follower announced: when it saw it, the first replaced
-- height, how deep, the hashes it orphaned and the ones it adopted (lowest height first).
-- Reads bronze.chain_events (a re-published event once).
-- partition: detected_date
WITH e AS (
  SELECT *, row_number() OVER (
    PARTITION BY chain, seq, number, hash ORDER BY _ingested_at DESC, _kafka_partition DESC, _kafka_offset DESC
  ) AS rn
  FROM bronze.chain_events
  WHERE kind = 'reorg'
)
SELECT
  chain,
  to_timestamp_millis(detected_at) AS detected_at,
  CAST(to_timestamp_millis(detected_at) AS DATE) AS detected_date,
  number AS first_height,
  depth,
  hash AS new_hash,
  orphaned_hashes,
  new_hashes,
  seq
FROM e
WHERE rn = 1
