//! The canonical window persisted in Redis, so a follower killed at any point resumes where it
//! stopped and still recognises a reorg of the blocks it published before the crash.
//!
//! Layout: one hash per chain and namespace, `chainlake:{namespace}{chain}:canonical`, field =
//! height, value = block hash. A height is recorded only after its records were acknowledged
//! by Kafka; a crash in between re-publishes that block with identical keys. Before a block
//! above every earlier one is published, `…:published-high` is raised to its height, so a
//! restart knows how far its blocks may reach even when the chain has since become shorter.

use alloy::primitives::B256;
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;

use crate::crawl::canonical::CanonicalWindow;
use crate::{Error, Result};

/// Redis-backed storage of a [`CanonicalWindow`].
#[derive(Clone)]
pub struct WindowStore {
    conn: MultiplexedConnection,
    key: String,
    epoch_key: String,
    high_key: String,
}

impl WindowStore {
    /// `namespace` separates deployments (tests, demos) that follow the same chain name.
    pub async fn connect(url: &str, namespace: &str, chain: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(Error::redis("open client"))?;
        let conn = client.get_multiplexed_async_connection().await.map_err(Error::redis("connect"))?;
        let keys = crate::redis_keys::RedisKeys::new(namespace, chain);
        Ok(WindowStore {
            conn,
            key: keys.canonical(),
            epoch_key: keys.seq_epoch(),
            high_key: keys.published_high(),
        })
    }

    /// Claims the sequence epoch of this run: above every earlier claim (of any follower,
    /// backfill or repair of the chain), at least `now`; one atomic step, so two processes
    /// starting at once never share an epoch.
    pub async fn claim_epoch(&self, now: u64) -> Result<u64> {
        const CLAIM: &str = r"
local prev = tonumber(redis.call('GET', KEYS[1]) or '0')
local epoch = math.max(tonumber(ARGV[1]), prev + 1)
redis.call('SET', KEYS[1], epoch)
return epoch";
        let mut conn = self.conn.clone();
        redis::Script::new(CLAIM)
            .key(&self.epoch_key)
            .arg(now)
            .invoke_async(&mut conn)
            .await
            .map_err(Error::redis("claim seq epoch"))
    }

    /// The stored window (empty when nothing was followed yet).
    pub async fn load(&self, capacity: u64) -> Result<CanonicalWindow> {
        let mut conn = self.conn.clone();
        let stored: std::collections::HashMap<u64, String> =
            conn.hgetall(&self.key).await.map_err(Error::redis("load window"))?;
        let mut window = CanonicalWindow::new(capacity);
        let mut heights: Vec<_> = stored.into_iter().collect();
        heights.sort();
        for (n, h) in heights {
            match h.parse::<B256>() {
                Ok(hash) => {
                    window.push(n, hash);
                }
                // Only this code writes the hash; an unreadable entry is skipped, not trusted.
                Err(_) => {
                    tracing::warn!(key = %self.key, height = n, value = %h, "unreadable window entry skipped")
                }
            }
        }
        let high: Option<u64> =
            conn.get(&self.high_key).await.map_err(Error::redis("load published high"))?;
        if let Some(h) = high {
            window.raise(h);
        }
        Ok(window)
    }

    /// Raises the published high-water mark (before publishing a block at `number`).
    pub async fn raise_high(&self, number: u64) -> Result<()> {
        let mut conn = self.conn.clone();
        conn.set::<_, _, ()>(&self.high_key, number).await.map_err(Error::redis("raise published high"))
    }

    /// Records a published height and forgets the ones that left the window.
    pub async fn record(&self, number: u64, hash: B256, evicted: &[u64]) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic().hset(&self.key, number, hash.to_string()).ignore();
        if !evicted.is_empty() {
            pipe.hdel(&self.key, evicted).ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(Error::redis("record height"))
    }

    /// Forgets orphaned heights (a reorg event announced them): nothing above `ancestor` is
    /// published any more.
    pub async fn forget(&self, heights: &[u64], ancestor: u64) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic().set(&self.high_key, ancestor).ignore();
        if !heights.is_empty() {
            pipe.hdel(&self.key, heights).ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(Error::redis("forget heights"))
    }
}
