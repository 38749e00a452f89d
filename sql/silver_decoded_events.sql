-- silver.decoded_events: every canonical log decoded with the ABI registry by
-- decode_event(address, topic0, topic1, topic2, topic3, data): by topic0 and the number of
-- indexed inputs (ERC-20 and ERC-721 Transfer are told apart by it), the ABI bound to the
-- address first, then every registered ABI, then the signature database. decode_status:
-- decoded, named (an event of the database known without `indexed` markers: its name only),
-- ambiguous (candidates), unknown, failed (decode_error); raw topics and data are kept on
-- every row. Arguments as in silver.decoded_calls (indexed inputs of a dynamic type are their
-- keccak hash). Reads silver.logs. Key: (block_hash, log_index). Adding an ABI rebuilds it.
-- partition: block_date
--
-- Every canonical log decoded by `decode_event(address, topic0, topic1, topic2, topic3, data)`: by
-- topic0 *and* the number of indexed inputs (topics after the first; this is what tells ERC-20
-- `Transfer` — value in data — from ERC-721 `Transfer` — token id in topic3), the bound ABI first,
-- then every registered ABI, then the signature database (9 k events with parameter names and
-- `indexed` markers decode fully; 18.5 k known by text signature only give the event's name,
-- `named`, unless no input or every input is indexed). An indexed input of a dynamic type (string,
-- bytes, arrays) is its keccak hash, as the chain stores it. Rebuilt when the registry changes,
-- like `silver.decoded_calls`. Key `(block_hash, log_index)`. Partition: `block_date`.
--
-- | column | type | meaning |
-- |---|---|---|
-- | chain | text | chain name |
-- | block_number | bigint | height |
-- | block_hash | text | its block |
-- | block_time | timestamp (UTC) | its block's timestamp |
-- | block_date | date | UTC day of `block_time` |
-- | tx_hash | text | the transaction |
-- | tx_index | bigint | its position |
-- | log_index | bigint | position in the block |
-- | address | text | emitting contract |
-- | event | text | the event's name |
-- | decode_status | text | `decoded`, `named` (the name only), `ambiguous` (several signatures share the selector/topic: `candidates`), `unknown` (no ABI or signature matches), `failed` (a signature matched, the bytes do not fit it: `decode_error`) |
-- | signature | text | canonical signature (`transfer(address,uint256)`) |
-- | origin | text | where the decoding came from: `bound:<abi>` (the contract's `[[abi.contracts]]` binding), `abi:<abi>` (a registered ABI, by selector/topic), `signatures` (the signature database) |
-- | args | text | the arguments as one JSON object in declaration order; values lossless: integers as decimal strings, addresses lowercase hex, bytes `0x` hex, booleans, arrays and tuples as JSON arrays (NULL unless `decoded`) |
-- | arg_names | list of text | the arguments' names in declaration order (`argN` where the ABI has none) |
-- | arg_values | list of text | their values as text (1-based in SQL: `arg_values[1]`), as in `args` |
-- | candidates | text | an ambiguous selector's or topic's signatures, sorted, joined by `; ` |
-- | decode_error | text | why it did not decode (`failed`), or what is odd |
-- | topic0 | text | raw topic0 |
-- | topic1 | text | raw topic1 |
-- | topic2 | text | raw topic2 |
-- | topic3 | text | raw topic3 |
-- | data | text | raw data |
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
