-- gold.contract_calls_daily: calls per contract address and 4-byte method selector per chain
-- and UTC day. Reads silver.transactions (class contract_call; `failed` counts status 0).
-- partition: day
SELECT
  chain,
  block_date AS day,
  to_address AS contract,
  method_selector,
  count(*) AS calls,
  sum(CASE WHEN status = 0 THEN 1 ELSE 0 END) AS failed,
  count(DISTINCT from_address) AS callers,
  sum(gas_used) AS gas_used
FROM silver.transactions
WHERE class = 'contract_call'
GROUP BY chain, block_date, to_address, method_selector
ORDER BY chain, day, calls DESC, contract, method_selector
