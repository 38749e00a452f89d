-- silver.dex_swaps: Uniswap V2 and V3 swaps (and their forks: same events) from the decoded
-- canonical logs. Reads silver.decoded_events. pool: the emitting pair/pool; amounts of its
-- token0 and token1 in and out of the pool, lossless text plus DECIMAL(38,0) where it fits:
-- V2 logs both directions; V3's signed amount0/amount1 (positive: into the pool) are split
-- into in and out. sqrt_price_x96, liquidity and tick are V3's state after the swap (NULL for
-- V2). Only fully decoded logs (decode_status = 'decoded'). Key: (block_hash, log_index).
-- partition: block_date
--
-- Uniswap V2 `Swap(sender, amount0In, amount1In, amount0Out, amount1Out, to)` and V3
-- `Swap(sender, recipient, amount0, amount1, sqrtPriceX96, liquidity, tick)` logs (and those of
-- forks emitting the same events) from `silver.decoded_events`, fully decoded ones only. Amounts
-- are of the pool's token0 and token1, into and out of the pool: V2 logs both directions; V3's
-- signed amounts (positive: into the pool) are split. The tokens' addresses are in the pool's
-- creation event (`PairCreated` / `PoolCreated` in `silver.decoded_events`), not in the swap.
-- Key `(block_hash, log_index)`. Partition: `block_date`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | block_number | bigint | height |
-- | block_hash | text | its block |
-- | block_time | timestamp (UTC) | its block's timestamp |
-- | block_date | date | UTC day of `block_time` |
-- | tx_hash | text | the transaction |
-- | tx_index | bigint | its position |
-- | log_index | bigint | the log |
-- | protocol | text | `uniswap_v2` or `uniswap_v3` |
-- | pool | text | the pair or pool contract |
-- | sender | text | who called the pool (often a router) |
-- | recipient | text | who received the output (V2 `to`) |
-- | amount0_in | text | token0 into the pool, lossless decimal text |
-- | amount1_in | text | token1 into the pool |
-- | amount0_out | text | token0 out of the pool |
-- | amount1_out | text | token1 out of the pool |
-- | amount0_in_decimal | decimal(38,0) | `amount0_in` where it fits, else NULL |
-- | amount1_in_decimal | decimal(38,0) | likewise |
-- | amount0_out_decimal | decimal(38,0) | likewise |
-- | amount1_out_decimal | decimal(38,0) | likewise |
-- | sqrt_price_x96 | text | V3: the pool's price after the swap (Q64.96), NULL for V2 |
-- | liquidity | text | V3: in-range liquidity after the swap |
-- | tick | int | V3: the tick after the swap |
WITH s AS (
  SELECT
    chain, block_number, block_hash, block_time, block_date, tx_hash, tx_index, log_index,
    address AS pool, signature, arg_values AS v
  FROM silver.decoded_events
  WHERE decode_status = 'decoded'
    AND signature IN (
      'Swap(address,uint256,uint256,uint256,uint256,address)',
      'Swap(address,address,int256,int256,uint160,uint128,int24)'
    )
),
amounts AS (
  SELECT
    s.*,
    CASE WHEN signature LIKE 'Swap(address,uint256%' THEN 'uniswap_v2' ELSE 'uniswap_v3' END AS protocol,
    -- V2: (sender, amount0In, amount1In, amount0Out, amount1Out, to);
    -- V3: (sender, recipient, amount0, amount1, sqrtPriceX96, liquidity, tick).
    CASE WHEN signature LIKE 'Swap(address,uint256%' THEN v[6] ELSE v[2] END AS recipient,
    CASE WHEN signature LIKE 'Swap(address,uint256%' THEN v[2]
      WHEN v[3] NOT LIKE '-%' THEN v[3] ELSE '0' END AS amount0_in,
    CASE WHEN signature LIKE 'Swap(address,uint256%' THEN v[3]
      WHEN v[4] NOT LIKE '-%' THEN v[4] ELSE '0' END AS amount1_in,
    CASE WHEN signature LIKE 'Swap(address,uint256%' THEN v[4]
      WHEN v[3] LIKE '-%' THEN substr(v[3], 2) ELSE '0' END AS amount0_out,
    CASE WHEN signature LIKE 'Swap(address,uint256%' THEN v[5]
      WHEN v[4] LIKE '-%' THEN substr(v[4], 2) ELSE '0' END AS amount1_out
  FROM s
)
SELECT
  chain,
  block_number,
  block_hash,
  block_time,
  block_date,
  tx_hash,
  tx_index,
  log_index,
  protocol,
  pool,
  v[1] AS sender,
  recipient,
  amount0_in,
  amount1_in,
  amount0_out,
  amount1_out,
  TRY_CAST(amount0_in AS DECIMAL(38, 0)) AS amount0_in_decimal,
  TRY_CAST(amount1_in AS DECIMAL(38, 0)) AS amount1_in_decimal,
  TRY_CAST(amount0_out AS DECIMAL(38, 0)) AS amount0_out_decimal,
  TRY_CAST(amount1_out AS DECIMAL(38, 0)) AS amount1_out_decimal,
  CASE WHEN protocol = 'uniswap_v3' THEN v[5] END AS sqrt_price_x96,
  CASE WHEN protocol = 'uniswap_v3' THEN v[6] END AS liquidity,
  CASE WHEN protocol = 'uniswap_v3' THEN CAST(v[7] AS INT) END AS tick
FROM amounts
