-- gold.token_transfers_daily: per chain, UTC day, token and standard: transfers, the amount
-- moved (DOUBLE: an approximate total; each transfer's exact amount is in
-- silver.token_transfers), distinct senders and receivers. Reads silver.token_transfers.
-- partition: day
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
