-- silver.chain_reorgs: every reorg the follower announced: when it saw it, the first replaced
-- height, how deep, the hashes it orphaned and the ones it adopted (lowest height first).
-- Reads bronze.chain_events (a re-published event once).
-- partition: detected_date
--
-- Every reorg the follower announced. Partition: `detected_date`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | detected_at | timestamp (UTC) | when the follower saw it |
-- | detected_date | date | UTC day of `detected_at` |
-- | first_height | bigint | first replaced height (fork point + 1) |
-- | depth | bigint | heights replaced |
-- | new_hash | text | the new canonical hash at `first_height` |
-- | orphaned_hashes | list of text | the replaced hashes, lowest height first |
-- | new_hashes | list of text | their replacements, lowest height first |
-- | seq | bigint | the follower's publication order |
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
