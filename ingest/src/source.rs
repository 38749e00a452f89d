//! The two roles the crawler drives: a [`BlockSource`] it reads the chain from and a
//! [`RecordSink`] it publishes the records to. Production uses
//! [`crate::rpc::providers::Providers`] (JSON-RPC, failover) and [`crate::publish::Publisher`]
//! (Kafka); the unit tests script both in process (`test_utils/`).

use std::future::Future;

use alloy::primitives::B256;
use chainlake_wire::{BlockBundle, ChainEventRecord, UnverifiedRecord};
use tokio_util::sync::CancellationToken;

use crate::verify::raw::RawBlock;
use crate::{Error, Result};

/// Reads one chain: its head, its blocks with their receipts, and canonical hashes.
pub trait BlockSource: Clone + Send + Sync + 'static {
    /// Where a follower is in the source's head announcements (`()` for a source without).
    type HeadCursor: Default + Send;

    /// Short chain name (topics, metrics).
    fn chain(&self) -> &str;

    /// The current head height.
    fn head(&self) -> impl Future<Output = Result<u64>> + Send;

    /// The block at `number` with its receipts, as the node sent them, and what
    /// verification found ([`RawBlock::check`]).
    fn block(&self, number: u64) -> impl Future<Output = Result<RawBlock>> + Send;

    /// The hash of the canonical block at `number`.
    fn block_hash(&self, number: u64) -> impl Future<Output = Result<B256>> + Send;

    /// The hash at `number`, or `None` when the node's chain ends below it.
    fn hash_if_any(&self, number: u64) -> impl Future<Output = Result<Option<B256>>> + Send {
        async move {
            match self.block_hash(number).await {
                Ok(h) => Ok(Some(h)),
                Err(Error::AboveHead { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        }
    }

    /// Requests sent so far (the RPC-economy metric); 0 when not counted.
    fn requests(&self) -> u64 {
        0
    }

    /// Starts head announcements (`newHeads`), if the source has them.
    fn start_heads(&self, _cancel: &CancellationToken) {}

    /// Resolves when a head newer than the one `cursor` saw is announced; never, without
    /// announcements (the follower then polls).
    fn next_head<'a>(&'a self, _cursor: &'a mut Self::HeadCursor) -> impl Future<Output = ()> + Send + 'a {
        std::future::pending()
    }
}

/// Publishes what the crawler produced; returns once every record is acknowledged.
pub trait RecordSink: Clone + Send + Sync + 'static {
    /// A block's records (header, transactions, logs).
    fn publish(&self, bundle: &BlockBundle) -> impl Future<Output = Result<()>> + Send;

    /// One chain event (reorg or confirmation).
    fn publish_event(&self, event: &ChainEventRecord) -> impl Future<Output = Result<()>> + Send;

    /// A block that could not be verified, kept raw (never among the good blocks).
    fn publish_unverified(&self, record: &UnverifiedRecord) -> impl Future<Output = Result<()>> + Send;
}
