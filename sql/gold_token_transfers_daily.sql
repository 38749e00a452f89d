-- gold.token_transfers_daily: per chain, UTC day, token and standard: transfers, the amount
-- moved (DOUBLE: an approximate total; each transfer's exact amount is in
-- silver.token_transfers), distinct senders and receivers. Reads silver.token_transfers.
-- partition: day
--
-- Per chain, UTC day, token and standard. Partition: `day`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | day | date | UTC day |
-- | token | text | token contract |
-- | standard | text | `erc20`, `erc721` or `erc1155` |
-- | transfers | bigint | transfers (ERC-1155 batches: one per element) |
-- | amount | double | amount moved, approximate (exact per transfer in `silver.token_transfers`) |
-- | senders | bigint | distinct senders |
-- | receivers | bigint | distinct receivers |
SELECT
  chain,
  block_date AS day,
  token,
  standard,
  count(*) AS transfers,
  sum(CAST(amount AS DOUBLE)) AS amount,
  count(DISTINCT from_address) AS senders,
  count(DISTINCT to_address) AS receivers
FROM silver.token_transfers
GROUP BY chain, block_date, token, standard
ORDER BY chain, day, transfers DESC, token
