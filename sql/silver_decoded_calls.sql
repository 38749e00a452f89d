-- silver.decoded_calls: every contract call of a Silver transaction (canonical only), decoded
-- with the ABI registry by decode_call(to, input): the ABI bound to the contract, else every
-- registered ABI by selector, else the signature database (see decode/src/decoder.rs).
-- decode_status: decoded, ambiguous (candidates lists every signature of the selector),
-- unknown, failed (decode_error says why); the raw input is kept on every row. Arguments are
-- lossless text: args is a JSON object in declaration order, arg_names/arg_values the same as
-- lists. origin: bound:<abi>, abi:<abi> or signatures. Reads silver.transactions.
-- Key: (block_hash, tx_index). Adding an ABI rebuilds this table (every past call decoded).
-- partition: block_date
--
-- Every contract call of a Silver transaction, decoded by `decode_call(to, input)` (decode/src/decoder.rs):
-- with the ABI bound to the contract when that ABI has the selector, else by the 4-byte selector
-- against every registered ABI (built-in ABIs, then `abi.dir`'s), else against the signature
-- database (121 k public function signatures: names, and arguments named `arg0…`). Nothing is
-- guessed: a selector several signatures share is `ambiguous` with every candidate. Adding or
-- changing an ABI or a binding changes the registry's fingerprint, recorded in the table's commits
-- (`txn` `chainlake-medallion:abi-registry`): the next run rebuilds this table, so every past call
-- of that contract is decoded without asking a node. Key `(block_hash, tx_index)`. Partition:
-- `block_date`.
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
-- | from_address | text | sender |
-- | contract | text | called contract (`to`) |
-- | tx_status | bigint | 1 success, 0 failure, NULL without receipt |
-- | method_selector | text | first 4 bytes of the input |
-- | method | text | the method's name |
-- | decode_status | text | `decoded`, `ambiguous` (several signatures share the selector/topic: `candidates`), `unknown` (no ABI or signature matches), `failed` (a signature matched, the bytes do not fit it: `decode_error`) |
-- | signature | text | canonical signature (`transfer(address,uint256)`) |
-- | origin | text | where the decoding came from: `bound:<abi>` (the contract's `[[abi.contracts]]` binding), `abi:<abi>` (a registered ABI, by selector/topic), `signatures` (the signature database) |
-- | args | text | the arguments as one JSON object in declaration order; values lossless: integers as decimal strings, addresses lowercase hex, bytes `0x` hex, booleans, arrays and tuples as JSON arrays (NULL unless `decoded`) |
-- | arg_names | list of text | the arguments' names in declaration order (`argN` where the ABI has none) |
-- | arg_values | list of text | their values as text (1-based in SQL: `arg_values[1]`), as in `args` |
-- | candidates | text | an ambiguous selector's or topic's signatures, sorted, joined by `; ` |
-- | decode_error | text | why it did not decode (`failed`), or what is odd |
-- | input | text | the raw input, always kept |
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
