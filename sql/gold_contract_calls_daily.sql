-- gold.contract_calls_daily: calls per contract address and 4-byte method selector per chain
-- and UTC day, with the method's name and signature where the call decodes. Reads
-- silver.transactions (class contract_call; `failed` counts status 0) and silver.decoded_calls.
-- partition: day
--
-- Calls per contract and 4-byte method selector per chain and UTC day, named where the calls
-- decode (`silver.decoded_calls`). Partition: `day`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | day | date | UTC day |
-- | contract | text | called contract |
-- | method_selector | text | first 4 bytes of the input |
-- | method | text | the method's name where a call decoded, else NULL |
-- | signature | text | its canonical signature |
-- | calls | bigint | calls |
-- | failed | bigint | calls with status 0 |
-- | callers | bigint | distinct senders |
-- | gas_used | bigint | gas used (NULL when no call has a receipt) |
SELECT
  t.chain,
  t.block_date AS day,
  t.to_address AS contract,
  t.method_selector,
  max(CASE WHEN d.decode_status = 'decoded' THEN d.method END) AS method,
  max(CASE WHEN d.decode_status = 'decoded' THEN d.signature END) AS signature,
  count(*) AS calls,
  sum(CASE WHEN t.status = 0 THEN 1 ELSE 0 END) AS failed,
  count(DISTINCT t.from_address) AS callers,
  sum(t.gas_used) AS gas_used
FROM silver.transactions AS t
LEFT JOIN silver.decoded_calls AS d ON d.chain = t.chain AND d.block_hash = t.block_hash AND d.tx_index = t.tx_index
WHERE t.class = 'contract_call'
GROUP BY t.chain, t.block_date, t.to_address, t.method_selector
ORDER BY t.chain, day, calls DESC, contract, t.method_selector
