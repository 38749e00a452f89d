//! Publish: wire records → Kafka (idempotent producer, keyed, compressed): the [`Publisher`]
//! implements the [`RecordSink`] role; [`decoded`] adds each block's decoded calls and logs;
//! [`producer`] builds the producer every Kafka writer of the crate uses.

pub mod decoded;
pub mod producer;
pub mod usage;

use std::sync::Arc;
use std::time::Duration;

use chainlake_decode::Registry;
use futures::future::try_join_all;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use serde::Serialize;

use crate::source::RecordSink;
use crate::{Error, Result};
use chainlake_wire::KafkaConfig;
use chainlake_wire::{BlockBundle, ChainEventRecord, TopicKind, Topics, UnverifiedRecord};

/// Creates the topics of a chain if they do not exist (brokers without auto-creation).
pub async fn ensure_topics(cfg: &KafkaConfig, topics: &Topics) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &cfg.brokers).create().map_err(|e| Error::Kafka {
            action: "create admin client",
            brokers: cfg.brokers.clone(),
            source: Box::new(e),
        })?;
    let names: Vec<String> = topics.all().into_iter().map(|(_, n)| n).collect();
    let new: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| NewTopic::new(n, cfg.partitions, TopicReplication::Fixed(cfg.replication_factor)))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin.create_topics(&new, &opts).await.map_err(|e| Error::Kafka {
        action: "create topics (is a broker listening there? tried for 10s)",
        brokers: cfg.brokers.clone(),
        source: Box::new(e),
    })?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                tracing::error!(%topic, ?code, "topic creation failed");
                return Err(Error::Kafka {
                    action: "create topic",
                    brokers: cfg.brokers.clone(),
                    source: Box::new(KafkaError::AdminOp(code)),
                });
            }
        }
    }
    Ok(())
}

/// Publishes block bundles to the topics of one chain.
#[derive(Clone)]
pub struct Publisher {
    producer: FutureProducer,
    topics: Topics,
    chain: String,
    /// Decodes each bundle's calls and logs onto the `decoded.*` topics (`None`: off).
    decoder: Option<Arc<Registry>>,
}

impl Publisher {
    pub fn new(cfg: &KafkaConfig, chain: &str) -> Result<Self> {
        let producer = producer::idempotent(cfg, 5, "create producer")?;
        Ok(Publisher {
            producer,
            topics: Topics::new(&cfg.topic_prefix, chain),
            chain: chain.to_owned(),
            decoder: None,
        })
    }

    /// Also publishes each bundle's calls and logs decoded with `registry`
    /// (`{chain}.decoded.calls` / `{chain}.decoded.events`, see [`crate::publish::decoded`]).
    pub fn with_decoder(self, registry: Arc<Registry>) -> Self {
        Publisher { decoder: Some(registry), ..self }
    }

    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// Sends every record of the bundle and waits until all are acknowledged.
    ///
    /// Re-publishing a block yields the same keys, so downstream deduplicates by key.
    #[tracing::instrument(skip_all, fields(chain = %self.chain, block = bundle.block.number))]
    pub async fn publish(&self, bundle: &BlockBundle) -> Result<()> {
        let mut msgs: Vec<(String, String, Vec<u8>)> =
            Vec::with_capacity(1 + bundle.txs.len() + bundle.logs.len());
        msgs.push((
            self.topics.name(TopicKind::Blocks),
            bundle.block.hash.clone(),
            encode(&bundle.block, "block")?,
        ));
        for tx in &bundle.txs {
            msgs.push((self.topics.name(TopicKind::Txs(tx.class)), tx.hash.clone(), encode(tx, "tx")?));
        }
        for log in &bundle.logs {
            msgs.push((self.topics.name(TopicKind::Logs), log.key(), encode(log, "log")?));
        }
        if let Some(registry) = &self.decoder {
            let decoded = crate::publish::decoded::decode_bundle(registry, bundle);
            for c in &decoded.calls {
                msgs.push((self.topics.name(TopicKind::DecodedCalls), c.key(), encode(c, "decoded call")?));
            }
            for e in &decoded.events {
                msgs.push((self.topics.name(TopicKind::DecodedEvents), e.key(), encode(e, "decoded event")?));
            }
        }
        self.send_all(&msgs).await
    }

    /// Publishes one chain event (reorg or confirmation) and waits for the acknowledgement.
    pub async fn publish_event(&self, event: &ChainEventRecord) -> Result<()> {
        let msg = (self.topics.name(TopicKind::ChainEvents), event.key(), encode(event, "chain event")?);
        self.send_all(&[msg]).await
    }

    /// Publishes a block that failed verification to `{chain}.unverified`.
    pub async fn publish_unverified(&self, record: &UnverifiedRecord) -> Result<()> {
        let msg =
            (self.topics.name(TopicKind::Unverified), record.key(), encode(record, "unverified block")?);
        self.send_all(&[msg]).await
    }

    /// Sends (topic, key, payload) messages concurrently; returns once all are acknowledged.
    async fn send_all(&self, msgs: &[(String, String, Vec<u8>)]) -> Result<()> {
        let sends = msgs.iter().map(|(topic, key, payload)| async move {
            self.producer
                .send(FutureRecord::to(topic).key(key).payload(payload), Duration::from_secs(30))
                .await
                .map_err(|(e, _)| Error::Produce {
                    topic: topic.clone(),
                    key: key.clone(),
                    source: Box::new(e),
                })
        });
        try_join_all(sends).await?;
        self.count(msgs);
        Ok(())
    }

    fn count(&self, msgs: &[(String, String, Vec<u8>)]) {
        for (topic, _, payload) in msgs {
            metrics::counter!(crate::metrics::KAFKA_RECORDS, "topic" => topic.clone()).increment(1);
            metrics::counter!(crate::metrics::KAFKA_BYTES, "topic" => topic.clone())
                .increment(payload.len() as u64);
        }
    }
}

impl RecordSink for Publisher {
    async fn publish(&self, bundle: &BlockBundle) -> Result<()> {
        Publisher::publish(self, bundle).await
    }

    async fn publish_event(&self, event: &ChainEventRecord) -> Result<()> {
        Publisher::publish_event(self, event).await
    }

    async fn publish_unverified(&self, record: &UnverifiedRecord) -> Result<()> {
        Publisher::publish_unverified(self, record).await
    }
}

fn encode<T: Serialize>(v: &T, what: &'static str) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|source| Error::Encode { what, source })
}
