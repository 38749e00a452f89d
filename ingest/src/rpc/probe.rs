//! The Kafka readiness probe: one client kept for the process, a metadata request per look
//! (what `/readyz` asks; no topic is read or written).

use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, Producer};

use crate::{Error, Result};
use chainlake_wire::KafkaConfig;

/// Asks the brokers of `kafka.brokers` for their metadata.
#[derive(Clone)]
pub struct KafkaProbe {
    client: Arc<BaseProducer>,
    brokers: String,
}

impl KafkaProbe {
    pub fn new(cfg: &KafkaConfig) -> Result<Self> {
        let client: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &cfg.brokers)
            // The probe only asks for metadata: no broker-down log line every reconnect.
            .set("log_level", "3")
            .create()
            .map_err(|e| Error::Kafka {
                action: "create probe client",
                brokers: cfg.brokers.clone(),
                source: Box::new(e),
            })?;
        Ok(KafkaProbe { client: Arc::new(client), brokers: cfg.brokers.clone() })
    }

    /// Answers once a broker returned the cluster's metadata within `timeout`.
    pub async fn check(&self, timeout: Duration) -> Result<()> {
        let client = self.client.clone();
        let brokers = self.brokers.clone();
        let fetched =
            tokio::task::spawn_blocking(move || client.client().fetch_metadata(None, timeout).map(|_| ()));
        // A probe task that panicked or was cancelled answers nothing either.
        let result = fetched.await.unwrap_or(Err(rdkafka::error::KafkaError::Canceled));
        result.map_err(|e| Error::Kafka { action: "fetch metadata", brokers, source: Box::new(e) })
    }
}
