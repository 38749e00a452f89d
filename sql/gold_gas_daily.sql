-- gold.gas_daily: per chain and UTC day, blocks, transactions, gas and fee levels (wei).
-- Reads silver.blocks and silver.transactions. Burnt fees come from the blocks (gas used x base
-- fee); fee sums over transactions are NULL when any of the day's transactions lacks its
-- receipt (txs_without_receipt > 0): never a 0 that pretends. Priority fee per gas (effective
-- gas price minus base fee; the whole price before London) percentiles are DOUBLE.
-- partition: day
--
-- Per chain and UTC day. Partition: `day`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | day | date | UTC day |
-- | blocks | bigint | canonical blocks |
-- | txs | bigint | transactions |
-- | txs_without_receipt | bigint | transactions whose receipt the provider did not give |
-- | gas_used | bigint | gas used |
-- | gas_used_ratio | double | gas used ÷ gas limit |
-- | avg_base_fee_wei | decimal | average base fee per gas |
-- | min_base_fee_wei | decimal(38,0) | lowest base fee per gas |
-- | max_base_fee_wei | decimal(38,0) | highest base fee per gas |
-- | avg_effective_gas_price_wei | decimal | average price paid per gas |
-- | min_effective_gas_price_wei | decimal(38,0) | lowest price paid per gas |
-- | max_effective_gas_price_wei | decimal(38,0) | highest price paid per gas |
-- | priority_fee_per_gas_p50_wei | double | median priority fee per gas (price − base fee) |
-- | priority_fee_per_gas_p90_wei | double | 90th percentile |
-- | priority_fee_per_gas_p99_wei | double | 99th percentile |
-- | burnt_fees_wei | decimal(38,0) | Σ block gas used × base fee |
-- | priority_fees_wei | decimal(38,0) | Σ priority fees; NULL when `txs_without_receipt` > 0 |
-- | blob_gas_used | bigint | blob gas used |
WITH b AS (
  SELECT chain, block_date AS day, count(*) AS blocks, sum(gas_used) AS gas_used, sum(gas_limit) AS gas_limit,
    avg(base_fee_per_gas) AS avg_base_fee_wei, min(base_fee_per_gas) AS min_base_fee_wei,
    max(base_fee_per_gas) AS max_base_fee_wei,
    sum(CAST(gas_used AS DECIMAL(38, 0)) * base_fee_per_gas) AS burnt_fees_wei,
    sum(blob_gas_used) AS blob_gas_used
  FROM silver.blocks
  GROUP BY chain, block_date
),
t AS (
  SELECT t.chain, t.block_date AS day, count(*) AS txs,
    sum(CASE WHEN t.has_receipt THEN 0 ELSE 1 END) AS txs_without_receipt,
    avg(t.effective_gas_price) AS avg_effective_gas_price_wei,
    min(t.effective_gas_price) AS min_effective_gas_price_wei,
    max(t.effective_gas_price) AS max_effective_gas_price_wei,
    sum(t.priority_fee_wei) AS priority_fees_wei,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(t.effective_gas_price - coalesce(b.base_fee_per_gas, 0) AS DOUBLE))
      AS priority_fee_per_gas_p50_wei,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY CAST(t.effective_gas_price - coalesce(b.base_fee_per_gas, 0) AS DOUBLE))
      AS priority_fee_per_gas_p90_wei,
    percentile_cont(0.99) WITHIN GROUP (ORDER BY CAST(t.effective_gas_price - coalesce(b.base_fee_per_gas, 0) AS DOUBLE))
      AS priority_fee_per_gas_p99_wei
  FROM silver.transactions AS t
  JOIN silver.blocks AS b ON b.chain = t.chain AND b.hash = t.block_hash
  GROUP BY t.chain, t.block_date
)
SELECT
  b.chain,
  b.day,
  b.blocks,
  coalesce(t.txs, 0) AS txs,
  coalesce(t.txs_without_receipt, 0) AS txs_without_receipt,
  b.gas_used,
  CASE WHEN b.gas_limit > 0 THEN CAST(b.gas_used AS DOUBLE) / CAST(b.gas_limit AS DOUBLE) END AS gas_used_ratio,
  b.avg_base_fee_wei,
  b.min_base_fee_wei,
  b.max_base_fee_wei,
  t.avg_effective_gas_price_wei,
  t.min_effective_gas_price_wei,
  t.max_effective_gas_price_wei,
  t.priority_fee_per_gas_p50_wei,
  t.priority_fee_per_gas_p90_wei,
  t.priority_fee_per_gas_p99_wei,
  b.burnt_fees_wei,
  CASE WHEN coalesce(t.txs_without_receipt, 0) = 0 THEN coalesce(t.priority_fees_wei, 0) END AS priority_fees_wei,
  b.blob_gas_used
FROM b
LEFT JOIN t ON t.chain = b.chain AND t.day = b.day
ORDER BY b.chain, b.day
