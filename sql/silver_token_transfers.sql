-- silver.token_transfers: token movements from canonical logs. Reads silver.logs.
-- ERC-20 and ERC-721 share the `Transfer(address,address,uint256)` topic0 and are told apart by
-- the number of topics: 3 (ERC-20, amount in data) or 4 (ERC-721, token id in topic3, amount 1).
-- ERC-1155 `TransferSingle` (one id and value in data) and `TransferBatch` (two uint256[] in data,
-- one row per element, `batch_index` its position). Amounts and token ids are lossless decimal
-- strings (`uint256(hex)`, see medallion/src/udf.rs); amount_decimal is the DECIMAL(38,0) where it
-- fits, else NULL. A log of these topics that does not decode has NULL amount and token id.
-- partition: block_date
--
-- Token movements decoded from `silver.logs`: ERC-20 and ERC-721 `Transfer` (the same topic0;
-- 3 topics = ERC-20, 4 = ERC-721), ERC-1155 `TransferSingle` and `TransferBatch` (one row per
-- element). Partition: `block_date`.
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
-- | log_index | bigint | the log |
-- | batch_index | bigint | position within a `TransferBatch` (0 otherwise) |
-- | token | text | the token contract |
-- | standard | text | `erc20`, `erc721` or `erc1155` |
-- | from_address | text | sender (the zero address for a mint) |
-- | to_address | text | receiver (the zero address for a burn) |
-- | operator | text | ERC-1155 operator |
-- | token_id | text | ERC-721 / ERC-1155 token id, lossless decimal text |
-- | amount | text | amount, lossless decimal text (1 for ERC-721) |
-- | amount_decimal | decimal(38,0) | `amount` where it fits, else NULL |
WITH erc20_721 AS (
  SELECT
    l.*,
    CASE WHEN topics_count = 3 THEN 'erc20' ELSE 'erc721' END AS standard,
    concat('0x', substr(topic1, 27, 40)) AS from_address,
    concat('0x', substr(topic2, 27, 40)) AS to_address,
    CASE WHEN topics_count = 4 THEN uint256(topic3) END AS token_id,
    CASE WHEN topics_count = 3 THEN uint256(data) ELSE '1' END AS amount,
    CAST(NULL AS VARCHAR) AS operator,
    CAST(NULL AS BIGINT) AS batch_index
  FROM silver.logs AS l
  WHERE topic0 = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'
    AND topics_count IN (3, 4)
),
single AS (
  SELECT
    l.*,
    'erc1155' AS standard,
    concat('0x', substr(topic2, 27, 40)) AS from_address,
    concat('0x', substr(topic3, 27, 40)) AS to_address,
    uint256(substr(data, 3, 64)) AS token_id,
    uint256(substr(data, 67, 64)) AS amount,
    concat('0x', substr(topic1, 27, 40)) AS operator,
    CAST(NULL AS BIGINT) AS batch_index
  FROM silver.logs AS l
  WHERE topic0 = '0xc3d58168c5ae7397731d063d5bbf3d657854427343f4c083240f7aacaa2d0f62' AND topics_count = 4
),
batch AS (
  SELECT
    l.*,
    abi_uint256_array(data, 0) AS ids,
    abi_uint256_array(data, 1) AS amounts
  FROM silver.logs AS l
  WHERE topic0 = '0x4a39dc06d4c0dbc64b70af90fd698a233a518aa5d07e595d983b8c0526c8f7fb' AND topics_count = 4
),
batch_rows AS (
  SELECT
    chain, block_number, block_hash, block_time, block_date, tx_hash, tx_index, log_index, address,
    'erc1155' AS standard,
    concat('0x', substr(topic2, 27, 40)) AS from_address,
    concat('0x', substr(topic3, 27, 40)) AS to_address,
    unnest(ids) AS token_id,
    unnest(amounts) AS amount,
    concat('0x', substr(topic1, 27, 40)) AS operator,
    unnest(generate_series(0, CAST(cardinality(ids) AS BIGINT) - 1)) AS batch_index
  FROM batch
  WHERE cardinality(ids) > 0 AND cardinality(ids) = cardinality(amounts)
),
all_transfers AS (
  SELECT chain, block_number, block_hash, block_time, block_date, tx_hash, tx_index, log_index, address,
    standard, from_address, to_address, token_id, amount, operator, batch_index FROM erc20_721
  UNION ALL
  SELECT chain, block_number, block_hash, block_time, block_date, tx_hash, tx_index, log_index, address,
    standard, from_address, to_address, token_id, amount, operator, batch_index FROM single
  UNION ALL
  SELECT chain, block_number, block_hash, block_time, block_date, tx_hash, tx_index, log_index, address,
    standard, from_address, to_address, token_id, amount, operator, batch_index FROM batch_rows
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
  coalesce(batch_index, 0) AS batch_index,
  address AS token,
  standard,
  from_address,
  to_address,
  operator,
  token_id,
  amount,
  TRY_CAST(amount AS DECIMAL(38, 0)) AS amount_decimal
FROM all_transfers
