-- silver.decoded_events: every canonical log decoded with the ABI registry by
-- decode_event(address, topic0, topic1, topic2, topic3, data): by topic0 and the number of
-- indexed inputs (ERC-20 and ERC-721 Transfer are told apart by it), the ABI bound to the
-- address first, then every registered ABI, then the signature database. decode_status:
-- decoded, named (an event of the database known without `indexed` markers: its name only),
-- ambiguous (candidates), unknown, failed (decode_error); raw topics and data are kept on
-- every row. Arguments as in silver.decoded_calls (indexed inputs of a dynamic type are their
-- keccak hash). Reads silver.logs. Key: (block_hash, log_index). Adding an ABI rebuilds it.
-- partition: block_date
WITH e AS (
  SELECT l.*, decode_event(address, topic0, topic1, topic2, topic3, data) AS d
  FROM silver.logs AS l
)
SELECT
  chain,
  block_number,
  block_hash,
  block_time,
  block_date,
  tx_hash,
  tx_index,
  log_index,
  address,
  d['status'] AS decode_status,
  d['name'] AS event,
  d['signature'] AS signature,
  d['origin'] AS origin,
  d['args'] AS args,
  d['arg_names'] AS arg_names,
  d['arg_values'] AS arg_values,
  d['candidates'] AS candidates,
  d['decode_error'] AS decode_error,
  topic0,
  topic1,
  topic2,
  topic3,
  data
FROM e
