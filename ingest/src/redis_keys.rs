//! Every Redis key chainlake's ingest processes use, built in one place:
//! `chainlake:{namespace}{chain}:…`, where the namespace is `kafka.topic-prefix` (so tests,
//! demos and deployments that share a Redis never share state). Imports nothing.

/// The keys of one chain in one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisKeys {
    base: String,
}

impl RedisKeys {
    pub fn new(namespace: &str, chain: &str) -> Self {
        RedisKeys { base: format!("chainlake:{namespace}{chain}") }
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.base)
    }

    /// The follower's canonical window (hash height → block hash).
    pub fn canonical(&self) -> String {
        self.key("canonical")
    }

    /// The highest height a published block may reach.
    pub fn published_high(&self) -> String {
        self.key("published-high")
    }

    /// The publication-order epoch every publisher claims.
    pub fn seq_epoch(&self) -> String {
        self.key("seq-epoch")
    }

    /// The holes (sorted set by height); with `:due` and `:info` beside it.
    pub fn holes(&self) -> String {
        self.key("holes")
    }

    /// The prefix of one backfill plan's leases, checkpoints and completions.
    pub fn backfill(&self, from: u64, to: u64, chunk_size: u64) -> String {
        self.key(&format!("backfill:{from}-{to}:{chunk_size}"))
    }

    /// The prefix of the API-key leases.
    pub fn key_leases(&self) -> String {
        self.key("keys")
    }

    /// The prefix of a usage ledger (`usage` for the replicas' reservations, else its name).
    pub fn ledger(&self, name: &str) -> String {
        self.key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout operators and older processes know (docs/configuration.md, `redis.url`).
    #[test]
    fn keys_keep_their_layout() {
        let k = RedisKeys::new("test.", "devnet");
        assert_eq!(k.canonical(), "chainlake:test.devnet:canonical");
        assert_eq!(k.published_high(), "chainlake:test.devnet:published-high");
        assert_eq!(k.seq_epoch(), "chainlake:test.devnet:seq-epoch");
        assert_eq!(k.holes(), "chainlake:test.devnet:holes");
        assert_eq!(k.backfill(0, 99, 10), "chainlake:test.devnet:backfill:0-99:10");
        assert_eq!(k.key_leases(), "chainlake:test.devnet:keys");
        assert_eq!(k.ledger("usage"), "chainlake:test.devnet:usage");
    }
}
