-- gold.fee_recipients_daily: what each fee recipient (miner / block builder) earned from
-- priority fees per chain and UTC day, in wei, and the base fee burnt in its blocks.
-- Reads silver.blocks and silver.transactions. Before London (no base fee) the whole gas
-- price is the recipient's.
SELECT
  b.chain,
  b.block_date AS day,
  b.fee_recipient,
  count(DISTINCT b.hash) AS blocks,
  count(t.hash) AS txs,
  coalesce(sum(CAST(t.gas_used AS DECIMAL(38, 0)) * (t.effective_gas_price - coalesce(b.base_fee_per_gas, 0))), 0)
    AS priority_fees_wei,
  coalesce(sum(CAST(t.gas_used AS DECIMAL(38, 0)) * coalesce(b.base_fee_per_gas, 0)), 0) AS burnt_fees_wei
FROM silver.blocks AS b
LEFT JOIN silver.transactions AS t ON t.chain = b.chain AND t.block_hash = b.hash
GROUP BY b.chain, b.block_date, b.fee_recipient
ORDER BY b.chain, day, priority_fees_wei DESC, b.fee_recipient
