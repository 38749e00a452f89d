-- gold.tx_class_daily: transactions per class (native_transfer, contract_deploy, contract_call)
-- per chain and UTC day, with failures. Reads silver.transactions.
-- partition: day
--
-- Transactions per class per chain and UTC day. Partition: `day`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | day | date | UTC day |
-- | class | text | `native_transfer`, `contract_deploy` or `contract_call` |
-- | txs | bigint | transactions |
-- | failed | bigint | status 0 |
-- | gas_used | bigint | gas used |
SELECT
  chain,
  block_date AS day,
  class,
  count(*) AS txs,
  sum(CASE WHEN status = 0 THEN 1 ELSE 0 END) AS failed,
  sum(gas_used) AS gas_used
FROM silver.transactions
GROUP BY chain, block_date, class
ORDER BY chain, day, class
