//! The canonical window persisted in Redis, so a follower killed at any point resumes where it
//! stopped and still recognises a reorg of the blocks it published before the crash.
//!
//! Layout: one hash per chain and namespace, `chainlake:{namespace}{chain}:canonical`, field =
//! height, value = block hash. A height is recorded only after its records were acknowledged
//! by Kafka; a crash in between re-publishes that block with identical keys.

use alloy::primitives::B256;
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;

use crate::canonical::CanonicalWindow;
use crate::{Error, Result};

/// Redis-backed storage of a [`CanonicalWindow`].
#[derive(Clone)]
pub struct WindowStore {
    conn: MultiplexedConnection,
    key: String,
    epoch_key: String,
}

fn redis_err(action: &'static str) -> impl FnOnce(redis::RedisError) -> Error {
    move |e| Error::Redis { action, source: Box::new(e) }
}

impl WindowStore {
    /// `namespace` separates deployments (tests, demos) that follow the same chain name.
    pub async fn connect(url: &str, namespace: &str, chain: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(redis_err("open client"))?;
        let conn = client.get_multiplexed_async_connection().await.map_err(redis_err("connect"))?;
        Ok(WindowStore {
            conn,
            key: format!("chainlake:{namespace}{chain}:canonical"),
            epoch_key: format!("chainlake:{namespace}{chain}:seq-epoch"),
        })
    }

    /// Claims the sequence epoch of this run: above every earlier claim, at least `now`.
    pub async fn claim_epoch(&self, now: u64) -> Result<u64> {
        let mut conn = self.conn.clone();
        let prev: Option<u64> = conn.get(&self.epoch_key).await.map_err(redis_err("read seq epoch"))?;
        let epoch = prev.map_or(now, |p| now.max(p + 1));
        conn.set::<_, _, ()>(&self.epoch_key, epoch).await.map_err(redis_err("claim seq epoch"))?;
        Ok(epoch)
    }

    /// The stored window (empty when nothing was followed yet).
    pub async fn load(&self, capacity: u64) -> Result<CanonicalWindow> {
        let mut conn = self.conn.clone();
        let stored: std::collections::HashMap<u64, String> =
            conn.hgetall(&self.key).await.map_err(redis_err("load window"))?;
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
        Ok(window)
    }

    /// Records a published height and forgets the ones that left the window.
    pub async fn record(&self, number: u64, hash: B256, evicted: &[u64]) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic().hset(&self.key, number, hash.to_string()).ignore();
        if !evicted.is_empty() {
            pipe.hdel(&self.key, evicted).ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(redis_err("record height"))
    }

    /// Forgets orphaned heights.
    pub async fn forget(&self, heights: &[u64]) -> Result<()> {
        if heights.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        conn.hdel::<_, _, ()>(&self.key, heights).await.map_err(redis_err("forget heights"))
    }
}
