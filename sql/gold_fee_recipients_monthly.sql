-- gold.fee_recipients_monthly: the daily figures summed per UTC month (`month` is its first
-- day), with the rank by priority fees that month — "top fee recipients per month". Reads
-- gold.fee_recipients_daily; a month with a day of missing receipts has NULL priority fees.
-- partition: month
--
-- What each fee recipient earned, per chain and UTC month (`month`: its first day), ranked.
-- Partition: `month`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | month | date | first day of the UTC month |
-- | fee_recipient | text | the block's beneficiary |
-- | blocks | bigint | blocks it produced |
-- | txs | bigint | transactions in them |
-- | txs_without_receipt | bigint | of which without receipt |
-- | priority_fees_wei | decimal(38,0) | priority fees earned; NULL when `txs_without_receipt` > 0 |
-- | burnt_fees_wei | decimal(38,0) | base fee burnt in its blocks |
-- | rank | bigint | 1 = earned the most that day / month (unknown earnings rank last) |
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
