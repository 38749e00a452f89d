-- silver.dex_swaps: Uniswap V2 and V3 swaps (and their forks: same events) from the decoded
-- canonical logs. Reads silver.decoded_events. pool: the emitting pair/pool; amounts of its
-- token0 and token1 in and out of the pool, lossless text plus DECIMAL(38,0) where it fits:
-- V2 logs both directions; V3's signed amount0/amount1 (positive: into the pool) are split
-- into in and out. sqrt_price_x96, liquidity and tick are V3's state after the swap (NULL for
-- V2). Only fully decoded logs (decode_status = 'decoded'). Key: (block_hash, log_index).
-- partition: block_date
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
