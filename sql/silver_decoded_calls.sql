-- silver.decoded_calls: every contract call of a Silver transaction (canonical only), decoded
-- with the ABI registry by decode_call(to, input): the ABI bound to the contract, else every
-- registered ABI by selector, else the signature database (see decode/src/decoder.rs).
-- decode_status: decoded, ambiguous (candidates lists every signature of the selector),
-- unknown, failed (decode_error says why); the raw input is kept on every row. Arguments are
-- lossless text: args is a JSON object in declaration order, arg_names/arg_values the same as
-- lists. origin: bound:<abi>, abi:<abi> or signatures. Reads silver.transactions.
-- Key: (block_hash, tx_index). Adding an ABI rebuilds this table (every past call decoded).
-- partition: block_date
WITH c AS (
  SELECT
    chain, block_number, block_hash, block_time, block_date, hash, tx_index, from_address,
    to_address, status, method_selector, input,
    decode_call(to_address, input) AS d
  FROM silver.transactions
  WHERE class = 'contract_call' AND length(input) > 2
)
SELECT
  chain,
  block_number,
  block_hash,
  block_time,
  block_date,
  hash AS tx_hash,
  tx_index,
  from_address,
  to_address AS contract,
  status AS tx_status,
  method_selector,
  d['status'] AS decode_status,
  d['name'] AS method,
  d['signature'] AS signature,
  d['origin'] AS origin,
  d['args'] AS args,
  d['arg_names'] AS arg_names,
  d['arg_values'] AS arg_values,
  d['candidates'] AS candidates,
  d['decode_error'] AS decode_error,
  input
FROM c
