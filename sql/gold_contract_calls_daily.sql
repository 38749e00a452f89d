-- gold.contract_calls_daily: calls per contract address per chain and UTC day.
-- Reads silver.transactions (class contract_call; failed calls count, see `failed`).
SELECT
  chain,
  block_date AS day,
  to_address AS contract,
  count(*) AS calls,
  sum(CASE WHEN status = 0 THEN 1 ELSE 0 END) AS failed,
  count(DISTINCT from_address) AS callers,
  sum(gas_used) AS gas_used
FROM silver.transactions
WHERE class = 'contract_call'
GROUP BY chain, block_date, to_address
ORDER BY chain, day, calls DESC, contract
