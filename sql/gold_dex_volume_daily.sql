-- gold.dex_volume_daily: per chain, UTC day, protocol, pool and token of the pool (token_index
-- 0 or 1: the pool's token0 / token1, whose addresses its creation event holds): swaps that
-- moved the token, the amounts into and out of the pool (DOUBLE: approximate totals; each
-- swap's exact amounts are in silver.dex_swaps), distinct senders and recipients.
-- Reads silver.dex_swaps.
-- partition: day
--
-- Per chain, UTC day, protocol, pool and token of the pool (`token_index` 0 or 1: its token0 /
-- token1), from `silver.dex_swaps`. Amounts are DOUBLE (approximate totals; every swap's exact
-- amounts are in `silver.dex_swaps`). Partition: `day`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | day | date | UTC day |
-- | protocol | text | `uniswap_v2` or `uniswap_v3` |
-- | pool | text | the pair or pool |
-- | token_index | int | 0 (token0) or 1 (token1) |
-- | swaps | bigint | swaps that moved this token |
-- | amount_in | double | total into the pool |
-- | amount_out | double | total out of the pool |
-- | senders | bigint | distinct swap senders |
-- | recipients | bigint | distinct recipients |
WITH legs AS (
  SELECT chain, block_date, protocol, pool, 0 AS token_index, sender, recipient,
    CAST(amount0_in AS DOUBLE) AS amount_in, CAST(amount0_out AS DOUBLE) AS amount_out
  FROM silver.dex_swaps
  UNION ALL
  SELECT chain, block_date, protocol, pool, 1 AS token_index, sender, recipient,
    CAST(amount1_in AS DOUBLE) AS amount_in, CAST(amount1_out AS DOUBLE) AS amount_out
  FROM silver.dex_swaps
)
SELECT
  chain,
  block_date AS day,
  protocol,
  pool,
  token_index,
  sum(CASE WHEN amount_in > 0 OR amount_out > 0 THEN 1 ELSE 0 END) AS swaps,
  sum(amount_in) AS amount_in,
  sum(amount_out) AS amount_out,
  count(DISTINCT sender) AS senders,
  count(DISTINCT recipient) AS recipients
FROM legs
GROUP BY chain, block_date, protocol, pool, token_index
ORDER BY chain, day, protocol, pool, token_index
