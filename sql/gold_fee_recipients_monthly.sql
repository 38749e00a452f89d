-- gold.fee_recipients_monthly: the daily figures summed per UTC month (`month` is its first
-- day), with the rank by priority fees that month — "top fee recipients per month". Reads
-- gold.fee_recipients_daily; a month with a day of missing receipts has NULL priority fees.
-- partition: month
WITH per_month AS (
  SELECT
    chain,
    CAST(date_trunc('month', day) AS DATE) AS month,
    fee_recipient,
    sum(blocks) AS blocks,
    sum(txs) AS txs,
    sum(txs_without_receipt) AS txs_without_receipt,
    CASE WHEN sum(txs_without_receipt) = 0 THEN sum(priority_fees_wei) END AS priority_fees_wei,
    sum(burnt_fees_wei) AS burnt_fees_wei
  FROM gold.fee_recipients_daily
  GROUP BY chain, CAST(date_trunc('month', day) AS DATE), fee_recipient
)
SELECT
  chain,
  month,
  fee_recipient,
  blocks,
  txs,
  txs_without_receipt,
  priority_fees_wei,
  burnt_fees_wei,
  rank() OVER (PARTITION BY chain, month ORDER BY priority_fees_wei DESC NULLS LAST) AS rank
FROM per_month
ORDER BY chain, month, rank, fee_recipient
