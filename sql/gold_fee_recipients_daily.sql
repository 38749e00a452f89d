-- gold.fee_recipients_daily: what each fee recipient (miner / block builder) earned from
-- priority fees per chain and UTC day, in wei, the base fee burnt in its blocks, and its rank
-- by priority fees that day (1 = earned the most). Reads silver.blocks and silver.transactions.
-- Before London (no base fee) the whole gas price is the recipient's. Where a transaction lacks
-- its receipt, priority_fees_wei is NULL (txs_without_receipt says how many), never a false 0.
-- partition: day
--
-- What each fee recipient earned, per chain and UTC day, ranked. Partition: `day`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | day | date | UTC day |
-- | fee_recipient | text | the block's beneficiary |
-- | blocks | bigint | blocks it produced |
-- | txs | bigint | transactions in them |
-- | txs_without_receipt | bigint | of which without receipt |
-- | priority_fees_wei | decimal(38,0) | priority fees earned; NULL when `txs_without_receipt` > 0 |
-- | burnt_fees_wei | decimal(38,0) | base fee burnt in its blocks |
-- | rank | bigint | 1 = earned the most that day / month (unknown earnings rank last) |
WITH per_block AS (
  SELECT
    b.chain,
    b.block_date,
    b.fee_recipient,
    b.hash,
    CAST(b.gas_used AS DECIMAL(38, 0)) * coalesce(b.base_fee_per_gas, 0) AS burnt_wei,
    count(t.hash) AS txs,
    sum(CASE WHEN t.hash IS NOT NULL AND NOT t.has_receipt THEN 1 ELSE 0 END) AS txs_without_receipt,
    coalesce(sum(t.priority_fee_wei), 0) AS priority_wei
  FROM silver.blocks AS b
  LEFT JOIN silver.transactions AS t ON t.chain = b.chain AND t.block_hash = b.hash
  GROUP BY b.chain, b.block_date, b.fee_recipient, b.hash, b.gas_used, b.base_fee_per_gas
),
per_day AS (
  SELECT
    chain,
    block_date AS day,
    fee_recipient,
    count(*) AS blocks,
    sum(txs) AS txs,
    sum(txs_without_receipt) AS txs_without_receipt,
    CASE WHEN sum(txs_without_receipt) = 0 THEN sum(priority_wei) END AS priority_fees_wei,
    sum(burnt_wei) AS burnt_fees_wei
  FROM per_block
  GROUP BY chain, block_date, fee_recipient
)
SELECT
  chain,
  day,
  fee_recipient,
  blocks,
  txs,
  txs_without_receipt,
  priority_fees_wei,
  burnt_fees_wei,
  rank() OVER (PARTITION BY chain, day ORDER BY priority_fees_wei DESC NULLS LAST) AS rank
FROM per_day
ORDER BY chain, day, rank, fee_recipient
