-- gold.native_transfers_daily: successful plain ether transfers per chain and UTC day.
-- Reads silver.transactions. Pre-Byzantium receipts have no status: counted as successful.
-- partition: day
--
-- Successful plain ether transfers per chain and UTC day. Partition: `day`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | day | date | UTC day |
-- | transfers | bigint | successful transfers (status 1, or no status before Byzantium) |
-- | wei | decimal(38,0) | value moved |
-- | senders | bigint | distinct senders |
-- | recipients | bigint | distinct recipients |
SELECT
  chain,
  block_date AS day,
  count(*) AS transfers,
  sum(value_wei) AS wei,
  count(DISTINCT from_address) AS senders,
  count(DISTINCT to_address) AS recipients
FROM silver.transactions
WHERE class = 'native_transfer' AND coalesce(status, 1) = 1
GROUP BY chain, block_date
ORDER BY chain, day
