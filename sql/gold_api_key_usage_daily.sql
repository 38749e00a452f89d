-- gold.api_key_usage_daily: per chain, UTC day, API key (its pseudonym, never the secret) and
-- provider, the RPC requests the replicas sent (from {chain}.ops.rpc_usage): requests, failed
-- ones (any answer but 2xx, or none), throttled ones (HTTP 429), unanswered ones, the replicas
-- and methods that used the key, and the latency. A record the producer sent twice counts once
-- (by its id). Reads bronze.rpc_usage.
-- partition: day
--
-- Per chain, UTC day, API key and provider: what the replicas sent, from `bronze.rpc_usage`
-- (topic `{chain}.ops.rpc_usage`, docs/topics.md; a record re-sent by the producer counts once,
-- by its `id`). Keys appear by pseudonym only. Partition: `day`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | day | date | UTC day the requests were sent |
-- | key | text | the key's pseudonym |
-- | provider | text | the provider it belongs to |
-- | requests | bigint | JSON-RPC calls sent on the key (a batch of N counts N) |
-- | errors | bigint | of which not answered 2xx (any HTTP error, or no answer) |
-- | throttled | bigint | of which answered 429 |
-- | unanswered | bigint | of which got no HTTP answer (timeout, reset, refused) |
-- | replicas | bigint | distinct replicas that used the key that day |
-- | methods | bigint | distinct methods called |
-- | avg_latency_ms | double | mean time to the answer (ms) |
-- | max_latency_ms | bigint | slowest answer (ms) |
WITH u AS (
  SELECT *, row_number() OVER (PARTITION BY id ORDER BY _kafka_partition, _kafka_offset) AS rn
  FROM bronze.rpc_usage
)
SELECT
  chain,
  usage_date AS day,
  key,
  provider,
  count(*) AS requests,
  sum(CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END) AS errors,
  sum(CASE WHEN http_status = 429 THEN 1 ELSE 0 END) AS throttled,
  sum(CASE WHEN http_status = 0 THEN 1 ELSE 0 END) AS unanswered,
  count(DISTINCT replica) AS replicas,
  count(DISTINCT method) AS methods,
  avg(CAST(latency_ms AS DOUBLE)) AS avg_latency_ms,
  max(latency_ms) AS max_latency_ms
FROM u
WHERE rn = 1
GROUP BY chain, usage_date, key, provider
ORDER BY chain, day, key, provider
