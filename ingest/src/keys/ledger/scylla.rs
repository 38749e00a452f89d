//! The usage ledger in ScyllaDB (`[scylla] uri`): a counter per key and minute in
//! `{keyspace}.key_usage` (infra/scylla/keys.cql, run on connect so a fresh cluster works).
//!
//! Counters are not check-and-set, and need not be: only the replica leasing a key counts its
//! reservations (the lease is the mutual exclusion), and the monitor counts into its own
//! `observed` ledger.
//!
//! No ScyllaDB can run on the development machine: the live test runs only when
//! `CHAINLAKE_TEST_SCYLLA_URI` names a server.

use std::sync::Arc;

use ::scylla::client::session::Session;
use ::scylla::client::session_builder::SessionBuilder;
use ::scylla::statement::prepared::PreparedStatement;
use ::scylla::value::Counter;

use super::{summarize, KeyUsage, UsageLedger, HOUR_MS, MINUTE_MS};
use crate::keys::{KeyError, KeyResult};

/// The schema, with `chainlake` as the keyspace name.
pub const SCHEMA: &str = include_str!("../../../../infra/scylla/keys.cql");

/// `[scylla]`: where the usage ledger lives when not in Redis.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScyllaConfig {
    /// `host:port[,host:port…]` (a `scylla://` prefix is accepted); empty: the ledger is in Redis.
    pub uri: String,
    /// The keyspace (created if missing, replication factor 1 unless created beforehand).
    pub keyspace: String,
}

impl Default for ScyllaConfig {
    fn default() -> Self {
        ScyllaConfig { uri: String::new(), keyspace: "chainlake".into() }
    }
}

impl ScyllaConfig {
    pub fn enabled(&self) -> bool {
        !self.uri.trim().is_empty()
    }

    /// The contact points of `uri`.
    pub fn nodes(&self) -> Vec<String> {
        self.uri
            .trim()
            .trim_start_matches("scylla://")
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// The statements of [`SCHEMA`] for `keyspace`, comments dropped.
pub fn schema_statements(keyspace: &str) -> Vec<String> {
    let text: String = SCHEMA
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("EXISTS chainlake\n", &format!("EXISTS {keyspace}\n"))
        .replace("chainlake.", &format!("{keyspace}."));
    text.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// One ledger (`reserved` or `observed`) of one chain in ScyllaDB.
#[derive(Clone)]
pub struct ScyllaLedger {
    session: Arc<Session>,
    add: PreparedStatement,
    read: PreparedStatement,
    namespace: String,
    chain: String,
    ledger: &'static str,
}

fn err<'a>(chain: &'a str, action: &'static str) -> impl Fn(String) -> KeyError + 'a {
    move |reason| KeyError::Store { chain: chain.to_owned(), action, reason }
}

impl ScyllaLedger {
    /// Connects, creates the keyspace and table if missing, prepares the statements.
    pub async fn connect(
        cfg: &ScyllaConfig,
        namespace: &str,
        chain: &str,
        ledger: &'static str,
    ) -> KeyResult<Self> {
        let session = SessionBuilder::new()
            .known_nodes(cfg.nodes())
            .build()
            .await
            .map_err(|e| err(chain, "connect to ScyllaDB")(e.to_string()))?;
        for statement in schema_statements(&cfg.keyspace) {
            session
                .query_unpaged(statement, &[])
                .await
                .map_err(|e| err(chain, "create the usage table")(e.to_string()))?;
        }
        let ks = &cfg.keyspace;
        let add = session
            .prepare(format!(
                "UPDATE {ks}.key_usage SET requests = requests + ? \
                 WHERE namespace = ? AND chain = ? AND ledger = ? AND key = ? AND hour = ? AND minute = ?"
            ))
            .await
            .map_err(|e| err(chain, "prepare the usage update")(e.to_string()))?;
        let read = session
            .prepare(format!(
                "SELECT hour, minute, requests FROM {ks}.key_usage \
                 WHERE namespace = ? AND chain = ? AND ledger = ? AND key = ? AND hour IN ?"
            ))
            .await
            .map_err(|e| err(chain, "prepare the usage query")(e.to_string()))?;
        Ok(ScyllaLedger {
            session: Arc::new(session),
            add,
            read,
            namespace: namespace.to_owned(),
            chain: chain.to_owned(),
            ledger,
        })
    }
}

impl UsageLedger for ScyllaLedger {
    async fn add(&self, key: &str, at_ms: u64, requests: u64) -> KeyResult<()> {
        let hour = i64::try_from(at_ms / HOUR_MS).unwrap_or(i64::MAX);
        let minute = i32::try_from((at_ms % HOUR_MS) / MINUTE_MS).unwrap_or(0);
        let n = Counter(i64::try_from(requests).unwrap_or(i64::MAX));
        let values = (n, &self.namespace, &self.chain, self.ledger, key, hour, minute);
        self.session
            .execute_unpaged(&self.add, values)
            .await
            .map_err(|e| err(&self.chain, "add key usage")(e.to_string()))?;
        Ok(())
    }

    async fn usage(&self, keys: &[String], now_ms: u64) -> KeyResult<Vec<KeyUsage>> {
        let now_hour = now_ms / HOUR_MS;
        let hours: Vec<i64> =
            (now_hour.saturating_sub(24)..=now_hour).filter_map(|h| i64::try_from(h).ok()).collect();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let values = (&self.namespace, &self.chain, self.ledger, key, &hours);
            let result = self
                .session
                .execute_unpaged(&self.read, values)
                .await
                .map_err(|e| err(&self.chain, "read key usage")(e.to_string()))?
                .into_rows_result()
                .map_err(|e| err(&self.chain, "read key usage")(e.to_string()))?;
            let mut minutes = Vec::new();
            let rows = result
                .rows::<(i64, i32, Counter)>()
                .map_err(|e| err(&self.chain, "read key usage")(e.to_string()))?;
            for row in rows {
                let (hour, minute, n) = row.map_err(|e| err(&self.chain, "read key usage")(e.to_string()))?;
                let start = u64::try_from(hour).unwrap_or(0) * HOUR_MS
                    + u64::try_from(minute).unwrap_or(0) * MINUTE_MS;
                minutes.push((start, u64::try_from(n.0).unwrap_or(0)));
            }
            out.push(summarize(minutes, now_ms));
        }
        Ok(out)
    }
}

impl std::fmt::Debug for ScyllaLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScyllaLedger")
            .field("chain", &self.chain)
            .field("ledger", &self.ledger)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_takes_the_configured_keyspace() {
        let s = schema_statements("ks1");
        assert_eq!(s.len(), 2);
        assert!(s[0].starts_with("CREATE KEYSPACE IF NOT EXISTS ks1"), "{}", s[0]);
        assert!(s[1].contains("ks1.key_usage") && !s[1].contains("chainlake"), "{}", s[1]);
        assert!(s[1].contains("requests counter"));
    }

    #[test]
    fn nodes_come_from_the_uri() {
        let c = ScyllaConfig { uri: "scylla://a:9042, b:9042".into(), ..ScyllaConfig::default() };
        assert_eq!(c.nodes(), ["a:9042", "b:9042"]);
        assert!(!ScyllaConfig::default().enabled());
    }
}
