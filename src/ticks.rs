//! The scheduler's tick leases in Redis (`SET key holder NX PX ttl`).

use std::time::Duration;

use chainlake_medallion::jobs::schedule::TickLease;
use chainlake_medallion::Error;
use redis::aio::MultiplexedConnection;

/// Tick leases in Redis.
pub struct RedisTicks {
    conn: MultiplexedConnection,
}

impl RedisTicks {
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let err = |e: redis::RedisError| Error::Lease {
            what: format!("connect to {}", redact(url)),
            reason: e.to_string(),
        };
        let client = redis::Client::open(url).map_err(err)?;
        let conn = client.get_multiplexed_async_connection().await.map_err(err)?;
        Ok(RedisTicks { conn })
    }
}

/// `redis://user:secret@host` → `redis://host`.
fn redact(url: &str) -> String {
    match url.split_once("://").and_then(|(s, rest)| rest.rsplit_once('@').map(|(_, h)| (s, h))) {
        Some((scheme, host)) => format!("{scheme}://{host}"),
        None => url.to_owned(),
    }
}

impl TickLease for RedisTicks {
    async fn take(&mut self, key: &str, holder: &str, ttl: Duration) -> Result<bool, Error> {
        let got: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async(&mut self.conn)
            .await
            .map_err(|e| Error::Lease { what: format!("take {key}"), reason: e.to_string() })?;
        Ok(got.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_passwords_are_not_shown() {
        assert_eq!(redact("redis://u:secret@h:6379/0"), "redis://h:6379/0");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
    }
}
