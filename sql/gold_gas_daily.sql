-- gold.gas_daily: per chain and UTC day, blocks, transactions, gas and fee levels (wei).
-- Reads silver.blocks and silver.transactions.
WITH b AS (
  SELECT chain, block_date AS day, count(*) AS blocks, sum(gas_used) AS gas_used, sum(gas_limit) AS gas_limit,
    avg(base_fee_per_gas) AS avg_base_fee_wei, min(base_fee_per_gas) AS min_base_fee_wei,
    max(base_fee_per_gas) AS max_base_fee_wei
  FROM silver.blocks
  GROUP BY chain, block_date
),
t AS (
  SELECT chain, block_date AS day, count(*) AS txs,
    avg(effective_gas_price) AS avg_effective_gas_price_wei, min(effective_gas_price) AS min_effective_gas_price_wei,
    max(effective_gas_price) AS max_effective_gas_price_wei
  FROM silver.transactions
  GROUP BY chain, block_date
)
SELECT
  b.chain,
  b.day,
  b.blocks,
  coalesce(t.txs, 0) AS txs,
  b.gas_used,
  CASE WHEN b.gas_limit > 0 THEN CAST(b.gas_used AS DOUBLE) / CAST(b.gas_limit AS DOUBLE) END AS gas_used_ratio,
  b.avg_base_fee_wei,
  b.min_base_fee_wei,
  b.max_base_fee_wei,
  t.avg_effective_gas_price_wei,
  t.min_effective_gas_price_wei,
  t.max_effective_gas_price_wei
FROM b
LEFT JOIN t ON t.chain = b.chain AND t.day = b.day
ORDER BY b.chain, b.day
