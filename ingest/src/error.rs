//! Typed errors of the ingest crate; each carries the coordinates needed to find the input.

use rdkafka::error::KafkaError;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while extracting, transforming or publishing a chain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A JSON-RPC call failed after the transport's own retries. `reason` has the endpoint
    /// URL replaced by its pseudonym (URLs carry API keys), so the source is not kept.
    #[error("rpc {method} failed (chain {chain}, provider {provider}, block {block:?}): {reason}")]
    Rpc {
        chain: String,
        provider: String,
        method: &'static str,
        block: Option<u64>,
        /// The JSON-RPC error code, when the node answered with an error object (codes are
        /// small: -32768..-32000 and a few positive ones).
        code: Option<i32>,
        reason: String,
        /// How long the provider asked to be left alone (`Retry-After`, or "try again in"), in
        /// milliseconds (kept small: every fallible call returns this error type).
        retry_after_ms: Option<u32>,
    },
    /// The answer for `block` from `provider` is not the block asked for, or not the one its
    /// header commits to: a lie (or a reorg between two calls), retried elsewhere and later
    /// like a 502. `raw` is the answer as received, kept for `{chain}.unverified`.
    #[error("block {block} from provider {provider} failed verification (chain {chain}): {failure}")]
    Unproven {
        chain: String,
        block: u64,
        provider: String,
        failure: Box<crate::verify::Failure>,
        raw: Box<crate::verify::raw::RawBlock>,
        /// Answers for this block that failed verification so far (over every provider).
        attempts: u32,
    },
    /// Every provider is resting after asking to be left alone (`Retry-After`) until `until`.
    #[error("every provider of chain {chain} asked to be left alone for {wait:?} more")]
    Resting { chain: String, wait: std::time::Duration },
    /// No provider serves the configured chain: each answered `eth_chainId` with another id.
    #[error("no provider serves chain {chain} (chain id {configured}): {found}")]
    WrongChain { chain: String, configured: u64, found: String },
    /// The node returned `null` for a block that should exist.
    #[error("block {block} not found (chain {chain})")]
    BlockNotFound { chain: String, block: u64 },
    /// The node has no block at `block` because its chain ends below it (a reorg to a shorter
    /// branch, or a height asked for too early): not retried, the caller looks at the head again.
    #[error("block {block} is above the node's head {head} (chain {chain})")]
    AboveHead { chain: String, block: u64, head: u64 },
    /// The chain reorganised below the oldest remembered height: healing needs a backfill.
    #[error(
        "reorg deeper than the window (chain {chain}, block {block}: no common ancestor down to {oldest})"
    )]
    ReorgTooDeep { chain: String, block: u64, oldest: u64 },
    /// A node response did not have the shape JSON-RPC promises.
    #[error("malformed {what} (chain {chain}, block {block}, tx {tx:?}): {reason}")]
    Malformed { chain: String, block: u64, tx: Option<String>, what: &'static str, reason: String },
    /// A Kafka produce failed.
    #[error("kafka produce to topic {topic} failed (key {key}): {source}")]
    Produce {
        topic: String,
        key: String,
        #[source]
        source: Box<KafkaError>,
    },
    /// Creating the Kafka client or topics failed.
    #[error("kafka {action} failed (brokers {brokers}): {source}")]
    Kafka {
        action: &'static str,
        brokers: String,
        #[source]
        source: Box<KafkaError>,
    },
    /// Serialising a wire record failed (a bug, never bad input).
    #[error("encoding {what} failed: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// Redis (the persisted canonical window) failed.
    #[error("redis {action} failed: {source}")]
    Redis {
        action: &'static str,
        #[source]
        source: Box<redis::RedisError>,
    },
    /// Another backfill worker holds the chunk now (our lease expired while we worked).
    #[error("backfill lease lost (chain {chain}, chunk {chunk}, worker {worker})")]
    LeaseLost { chain: String, chunk: u64, worker: String },
    /// A provider's endpoint URL does not parse (the URL itself is a secret: not shown).
    #[error("rpc url of provider {provider} (chain {chain}) is not a URL: {reason}")]
    ProviderUrl { chain: String, provider: String, reason: String },
    /// `[rpc]` names no provider at all.
    #[error("no rpc provider configured (chain {chain})")]
    NoProvider { chain: String },
    /// With a key pool, this replica holds no key lease now (`why`: which keys are held,
    /// cooling or parked, or why the store cannot say): it waits, it never shares a key.
    #[error("no API key leased (chain {chain}): {why}")]
    NoKey { chain: String, why: String },
    /// A block's hash or parent hash is not a 32-byte hash.
    #[error("block {block} (chain {chain}) has a malformed {field}: {value}")]
    BadHash { chain: String, block: u64, field: &'static str, value: String },
    /// Every provider failed for `rpc.give-up-after`: the operator must look.
    #[error("every provider of chain {chain} failed {call} for {waited:?}; last error: {last}")]
    ProvidersDown { chain: String, call: &'static str, waited: std::time::Duration, last: Box<Error> },
    /// Shutdown was requested while waiting for a provider.
    #[error("cancelled while waiting for a provider (chain {chain})")]
    Cancelled { chain: String },
    /// A configuration value that cannot work.
    #[error(transparent)]
    Config(#[from] crate::config::InvalidConfig),
    /// The key store (leases, ledger) failed.
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    /// The local devnet (anvil, artifacts, traffic) failed.
    #[cfg(feature = "devnet")]
    #[error("devnet: {what}: {reason}")]
    Devnet { what: String, reason: String },
    /// A local file could not be read or written.
    #[error("io on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// `map_err(Error::redis("claim chunk"))`: a Redis failure named by what was being done.
    pub fn redis(action: &'static str) -> impl FnOnce(redis::RedisError) -> Error {
        move |e| Error::Redis { action, source: Box::new(e) }
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            // Everything a provider can do wrong is worth another try, elsewhere or later; a
            // method it lacks too (another provider may have it).
            Error::Rpc { .. } => true,
            // A lie, a malformed hash or a missing block is another provider's chance.
            Error::BlockNotFound { .. } | Error::Produce { .. } => true,
            Error::Unproven { .. } | Error::BadHash { .. } | Error::Resting { .. } => true,
            Error::Kafka { .. } | Error::Redis { .. } => true,
            Error::ReorgTooDeep { .. }
            | Error::AboveHead { .. }
            | Error::Malformed { .. }
            | Error::Encode { .. }
            | Error::ProviderUrl { .. }
            | Error::NoProvider { .. }
            | Error::WrongChain { .. }
            | Error::ProvidersDown { .. }
            | Error::Cancelled { .. }
            | Error::Config(_)
            | Error::Io { .. } => false,
            #[cfg(feature = "devnet")]
            Error::Devnet { .. } => false,
            Error::LeaseLost { .. } | Error::NoKey { .. } | Error::Keys(_) => true,
        }
    }

    /// Whether the provider answered, but with a block that does not prove (see [`Error::Unproven`]).
    pub fn is_lie(&self) -> bool {
        matches!(self, Error::Unproven { .. })
    }

    /// The rest a provider asked for with this answer (`Retry-After`), if any.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::Rpc { retry_after_ms, .. } => {
                retry_after_ms.map(|ms| std::time::Duration::from_millis(ms.into()))
            }
            _ => None,
        }
    }

    /// The provider does not offer the method (JSON-RPC -32601, or a "not supported" message
    /// as some hosted providers send with other codes).
    pub fn is_method_missing(&self) -> bool {
        let Error::Rpc { code: Some(code), reason, .. } = self else { return false };
        let reason = reason.to_ascii_lowercase();
        *code == -32601
            || (reason.contains("method")
                && ["not found", "not supported", "unsupported", "does not exist", "not available"]
                    .iter()
                    .any(|m| reason.contains(m)))
    }

    #[cfg(feature = "devnet")]
    pub(crate) fn devnet(what: impl Into<String>, reason: impl ToString) -> Self {
        Error::Devnet { what: what.into(), reason: reason.to_string() }
    }
}
