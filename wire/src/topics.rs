//! Topic names and kinds of one chain, and the `TopicPartition` coordinate.

use std::fmt;

use crate::records::TxClass;

/// The kind of data a topic carries; the topic name is `{prefix}{chain}.{suffix}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TopicKind {
    Blocks,
    Txs(TxClass),
    Logs,
    ChainEvents,
    /// Blocks that failed verification, kept raw (never in `blocks`).
    Unverified,
    /// Every RPC request of the key pool's replicas (`ops.rpc_usage`).
    RpcUsage,
    /// Contract calls decoded as their block was published (`decoded.calls`).
    DecodedCalls,
    /// Logs decoded as their block was published (`decoded.events`).
    DecodedEvents,
}

impl TopicKind {
    pub const ALL: [TopicKind; 10] = [
        TopicKind::Blocks,
        TopicKind::Txs(TxClass::NativeTransfer),
        TopicKind::Txs(TxClass::ContractDeploy),
        TopicKind::Txs(TxClass::ContractCall),
        TopicKind::Logs,
        TopicKind::ChainEvents,
        TopicKind::Unverified,
        TopicKind::RpcUsage,
        TopicKind::DecodedCalls,
        TopicKind::DecodedEvents,
    ];

    /// Topic name after `{chain}.`.
    pub fn suffix(self) -> &'static str {
        match self {
            TopicKind::Blocks => "blocks",
            TopicKind::Txs(TxClass::NativeTransfer) => "txs.native_transfer",
            TopicKind::Txs(TxClass::ContractDeploy) => "txs.contract_deploy",
            TopicKind::Txs(TxClass::ContractCall) => "txs.contract_call",
            TopicKind::Logs => "logs",
            TopicKind::ChainEvents => "chain_events",
            TopicKind::Unverified => "unverified",
            TopicKind::RpcUsage => "ops.rpc_usage",
            TopicKind::DecodedCalls => "decoded.calls",
            TopicKind::DecodedEvents => "decoded.events",
        }
    }

    /// Bronze table name for this topic (dots are not portable in table paths).
    pub fn table_name(self) -> &'static str {
        match self {
            TopicKind::Blocks => "blocks",
            TopicKind::Txs(TxClass::NativeTransfer) => "txs_native_transfer",
            TopicKind::Txs(TxClass::ContractDeploy) => "txs_contract_deploy",
            TopicKind::Txs(TxClass::ContractCall) => "txs_contract_call",
            TopicKind::Logs => "logs",
            TopicKind::ChainEvents => "chain_events",
            TopicKind::Unverified => "unverified",
            TopicKind::RpcUsage => "rpc_usage",
            TopicKind::DecodedCalls => "decoded_calls",
            TopicKind::DecodedEvents => "decoded_events",
        }
    }
}

/// Topic names of one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
    chain: String,
}

impl Topics {
    /// `prefix` namespaces topics (tests, demos); production uses an empty prefix.
    pub fn new(prefix: &str, chain: &str) -> Self {
        Topics { prefix: prefix.to_owned(), chain: chain.to_owned() }
    }

    pub fn name(&self, kind: TopicKind) -> String {
        format!("{}{}.{}", self.prefix, self.chain, kind.suffix())
    }

    /// The kind of a topic name of this chain, if it is one.
    pub fn kind_of(&self, topic: &str) -> Option<TopicKind> {
        TopicKind::ALL.into_iter().find(|k| self.name(*k) == topic)
    }

    pub fn all(&self) -> Vec<(TopicKind, String)> {
        TopicKind::ALL.into_iter().map(|k| (k, self.name(k))).collect()
    }
}

/// One partition of one topic: the coordinate of a Kafka offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_round_trip() {
        let t = Topics::new("t1-", "eth");
        assert_eq!(t.name(TopicKind::Txs(TxClass::ContractCall)), "t1-eth.txs.contract_call");
        for (k, name) in t.all() {
            assert_eq!(t.kind_of(&name), Some(k));
        }
        assert_eq!(t.kind_of("eth.blocks"), None);
    }

    #[test]
    fn topic_partition_displays_as_coordinates() {
        assert_eq!(TopicPartition::new("eth.logs", 2).to_string(), "eth.logs/2");
    }
}
