-- gold.top_methods_daily: the methods called most per chain and UTC day, across contracts.
-- method: the decoded signature, or the 4-byte selector where the call does not decode (the
-- selector's candidates when ambiguous are in silver.decoded_calls). calls, failed (status 0),
-- distinct callers and contracts, and rank by calls that day (1 = called the most; ties share
-- a rank). Reads silver.decoded_calls.
-- partition: day
--
-- The methods called most per chain and UTC day, across contracts, from `silver.decoded_calls`.
-- Partition: `day`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | day | date | UTC day |
-- | method | text | the decoded signature, or the 4-byte selector where calls do not decode |
-- | decoded | boolean | whether `method` is a signature |
-- | calls | bigint | calls |
-- | failed | bigint | calls with status 0 |
-- | callers | bigint | distinct senders |
-- | contracts | bigint | distinct contracts called |
-- | rank | bigint | by calls that day (1 = the most; ties share a rank) |
WITH m AS (
  SELECT
    chain,
    block_date AS day,
    CASE WHEN decode_status = 'decoded' THEN signature ELSE method_selector END AS method,
    max(CASE WHEN decode_status = 'decoded' THEN 1 ELSE 0 END) AS decoded,
    count(*) AS calls,
    sum(CASE WHEN tx_status = 0 THEN 1 ELSE 0 END) AS failed,
    count(DISTINCT from_address) AS callers,
    count(DISTINCT contract) AS contracts
  FROM silver.decoded_calls
  GROUP BY chain, block_date, CASE WHEN decode_status = 'decoded' THEN signature ELSE method_selector END
)
SELECT
  chain,
  day,
  method,
  decoded = 1 AS decoded,
  calls,
  failed,
  callers,
  contracts,
  rank() OVER (PARTITION BY chain, day ORDER BY calls DESC) AS rank
FROM m
ORDER BY chain, day, rank, method
