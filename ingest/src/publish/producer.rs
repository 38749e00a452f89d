//! The Kafka producer every writer of the crate uses (blocks, chain events, the usage feed).
//! Imports nothing of the crate but its error.

use rdkafka::config::ClientConfig;
use rdkafka::producer::FutureProducer;

use crate::{Error, Result};
use chainlake_wire::KafkaConfig;

/// An idempotent producer (`acks=all`, compressed) that waits up to `linger_ms` to batch.
pub fn idempotent(cfg: &KafkaConfig, linger_ms: u32, action: &'static str) -> Result<FutureProducer> {
    ClientConfig::new()
        .set("bootstrap.servers", &cfg.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", &cfg.compression)
        .set("linger.ms", linger_ms.to_string())
        .set("message.timeout.ms", cfg.message_timeout.as_millis().to_string())
        .create()
        .map_err(|e| Error::Kafka { action, brokers: cfg.brokers.clone(), source: Box::new(e) })
}
