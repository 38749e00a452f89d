-- gold.api_key_usage_daily: per chain, UTC day, API key (its pseudonym, never the secret) and
-- provider, the RPC requests the replicas sent (from {chain}.ops.rpc_usage): requests, failed
-- ones (any answer but 2xx, or none), throttled ones (HTTP 429), unanswered ones, the replicas
-- and methods that used the key, and the latency. A record the producer sent twice counts once
-- (by its id). Reads bronze.rpc_usage.
-- partition: day
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
