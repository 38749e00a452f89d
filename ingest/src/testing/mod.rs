//! In-process fakes of the crawler's roles for the unit tests of its decisions: a chain whose
//! head moves and reorganises on a script, and whose answers at some heights do not prove
//! ([`ScriptedChain`]), a sink that remembers what was published in order ([`MemorySink`]),
//! chunk leases and holes in memory ([`MemoryLeases`], [`MemoryHoles`]), and JSON-RPC servers
//! on loopback answering as a script says (rpc_fake.rs). The role fakes run on tokio's paused
//! clock, so a test of leases expiring takes milliseconds.

mod holes;
mod rpc_fake;

pub(crate) use holes::MemoryHoles;

/// Polls `check` on tokio's paused clock, advancing it 10 ms between polls, until it yields
/// a value (at most 10,000 polls: the wall clock moves meanwhile, for decisions made on it).
pub(crate) async fn eventually_paused<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..10_000 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        std::thread::sleep(Duration::from_micros(100));
    }
    panic!("not within 10,000 polls")
}
pub(crate) use rpc_fake::{mainnet, Reply, RpcFake};

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use alloy::primitives::B256;
use chainlake_wire::{BlockBundle, ChainEventKind, ChainEventRecord, UnverifiedRecord};
use serde_json::json;
use tokio::time::Instant;

use crate::backfill::ChunkLeases;
use crate::rpc::RawBlock;
use crate::source::{BlockSource, RecordSink};
use crate::{Error, Result};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The hash of height `number` on branch `branch` (branch 0 is the original chain).
pub(crate) fn block_hash(number: u64, branch: u64) -> B256 {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&branch.to_be_bytes());
    bytes[24..].copy_from_slice(&number.to_be_bytes());
    B256::from(bytes)
}

/// A change of the scripted chain.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    /// The head moves up to `to`.
    Grow { to: u64 },
    /// Heights `from..` are replaced by a new branch reaching `to`.
    Reorg { from: u64, to: u64 },
}

#[derive(Debug, Default)]
struct ChainState {
    /// Branch of each height, index = height.
    branches: Vec<u64>,
    next_branch: u64,
    /// Applied one per `head()` call.
    on_head: VecDeque<Option<Step>>,
    /// Applied right after the block at the key height was served.
    after_fetch: HashMap<u64, Step>,
    /// Answers at these heights that do not prove, still to come (given up on, as the
    /// providers would after their attempts).
    lies: HashMap<u64, usize>,
}

impl ChainState {
    fn apply(&mut self, step: Step) {
        let (from, to, branch) = match step {
            Step::Grow { to } => (self.branches.len() as u64, to, self.branches.last().copied().unwrap_or(0)),
            Step::Reorg { from, to } => {
                self.next_branch += 1;
                (from, to, self.next_branch)
            }
        };
        self.branches.truncate(from as usize);
        self.branches.resize(to as usize + 1, branch);
    }

    /// As a provider answers a height its chain does not reach.
    fn missing(&self, number: u64) -> Error {
        Error::AboveHead { chain: "test".into(), block: number, head: self.branches.len() as u64 - 1 }
    }

    fn hash(&self, number: u64) -> Option<B256> {
        self.branches.get(number as usize).map(|b| block_hash(number, *b))
    }
}

/// A chain of empty blocks whose head moves and reorganises as scripted.
#[derive(Clone, Debug)]
pub(crate) struct ScriptedChain {
    state: Arc<Mutex<ChainState>>,
}

impl ScriptedChain {
    /// Heights `0..=head` on branch 0.
    pub(crate) fn new(head: u64) -> Self {
        let state = ChainState { branches: vec![0; head as usize + 1], ..ChainState::default() };
        ScriptedChain { state: Arc::new(Mutex::new(state)) }
    }

    /// Steps applied one per `head()` call (`None`: the head stays).
    pub(crate) fn on_head(self, steps: impl IntoIterator<Item = Option<Step>>) -> Self {
        lock(&self.state).on_head.extend(steps);
        self
    }

    /// `step` is applied once the block at `height` has been served.
    pub(crate) fn after_fetch(self, height: u64, step: Step) -> Self {
        lock(&self.state).after_fetch.insert(height, step);
        self
    }

    /// The next `times` fetches of `height` do not prove (`usize::MAX`: never).
    pub(crate) fn lie_at(self, height: u64, times: usize) -> Self {
        lock(&self.state).lies.insert(height, times);
        self
    }
}

impl BlockSource for ScriptedChain {
    fn chain(&self) -> &str {
        "test"
    }

    async fn head(&self) -> Result<u64> {
        let mut st = lock(&self.state);
        if let Some(Some(step)) = st.on_head.pop_front() {
            st.apply(step);
        }
        Ok(st.branches.len() as u64 - 1)
    }

    async fn block(&self, number: u64) -> Result<RawBlock> {
        // A node answers later: lets concurrent workers interleave as they would.
        tokio::task::yield_now().await;
        let mut st = lock(&self.state);
        let hash = st.hash(number).ok_or_else(|| st.missing(number))?;
        let parent = number.checked_sub(1).and_then(|p| st.hash(p)).unwrap_or(B256::ZERO);
        let block = json!({
            "number": format!("{number:#x}"), "hash": hash.to_string(), "parentHash": parent.to_string(),
            "timestamp": format!("{:#x}", 1_700_000_000 + number * 12), "miner": "0x00000000000000000000000000000000000000fe",
            "gasUsed": "0x0", "gasLimit": "0x1c9c380", "transactions": []
        });
        if let Some(step) = st.after_fetch.remove(&number) {
            st.apply(step);
        }
        let mut raw = RawBlock::new(number, block, json!([]), "scripted");
        raw.check = crate::verify::Check::Verified;
        if let Some(left) = st.lies.get_mut(&number).filter(|n| **n > 0) {
            *left = left.saturating_sub(usize::from(*left != usize::MAX));
            let failure = crate::verify::Failure::decode("scripted lie");
            raw.check = crate::verify::Check::Rejected { failure, attempts: 1 };
        }
        Ok(raw)
    }

    async fn block_hash(&self, number: u64) -> Result<B256> {
        let st = lock(&self.state);
        st.hash(number).ok_or_else(|| st.missing(number))
    }
}

/// What the crawler published, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Published {
    Block { number: u64, hash: String },
    Reorg { number: u64, orphaned: Vec<String>, new: Vec<String> },
    Confirmed { number: u64 },
    Unverified { number: u64, reason: String },
}

/// A sink that keeps every publication in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct MemorySink {
    log: Arc<Mutex<Vec<Published>>>,
}

impl MemorySink {
    pub(crate) fn published(&self) -> Vec<Published> {
        lock(&self.log).clone()
    }

    /// Blocks and reorgs only (confirmations follow from them).
    pub(crate) fn without_confirmations(&self) -> Vec<Published> {
        self.published().into_iter().filter(|p| !matches!(p, Published::Confirmed { .. })).collect()
    }

    /// Heights of the published blocks, in publication order.
    pub(crate) fn heights(&self) -> Vec<u64> {
        let blocks = self.published().into_iter();
        blocks
            .filter_map(|p| if let Published::Block { number, .. } = p { Some(number) } else { None })
            .collect()
    }
}

impl RecordSink for MemorySink {
    async fn publish(&self, bundle: &BlockBundle) -> Result<()> {
        let b = &bundle.block;
        lock(&self.log).push(Published::Block { number: b.number, hash: b.hash.clone() });
        Ok(())
    }

    async fn publish_event(&self, e: &ChainEventRecord) -> Result<()> {
        let p = match e.kind {
            ChainEventKind::Reorg => Published::Reorg {
                number: e.number,
                orphaned: e.orphaned_hashes.clone(),
                new: e.new_hashes.clone(),
            },
            ChainEventKind::Confirmed => Published::Confirmed { number: e.number },
        };
        lock(&self.log).push(p);
        Ok(())
    }

    async fn publish_unverified(&self, r: &UnverifiedRecord) -> Result<()> {
        lock(&self.log).push(Published::Unverified { number: r.number, reason: r.reason.clone() });
        Ok(())
    }
}

#[derive(Debug, Default)]
struct LeaseState {
    leases: HashMap<u64, (String, Instant)>,
    checkpoints: HashMap<u64, u64>,
    done: HashSet<u64>,
}

/// Chunk leases in memory with Redis's semantics (atomic claim unless done, TTL expiry).
#[derive(Clone, Debug)]
pub(crate) struct MemoryLeases {
    state: Arc<Mutex<LeaseState>>,
    worker: String,
    ttl: Duration,
}

impl MemoryLeases {
    pub(crate) fn new(ttl: Duration) -> Self {
        MemoryLeases { state: Arc::default(), worker: "w0".into(), ttl }
    }

    /// Another worker on the same leases.
    pub(crate) fn worker(&self, name: &str) -> Self {
        MemoryLeases { worker: name.to_owned(), ..self.clone() }
    }

    /// A worker that died holding `chunk` with checkpoint `next` (its lease runs out by itself).
    pub(crate) fn dead_holder(&self, chunk: u64, next: u64) {
        let mut st = lock(&self.state);
        st.leases.insert(chunk, ("dead".into(), Instant::now() + self.ttl));
        st.checkpoints.insert(chunk, next);
    }

    pub(crate) fn mark_done(&self, chunk: u64) {
        lock(&self.state).done.insert(chunk);
    }

    fn held_by_us(&self, st: &LeaseState, chunk: u64) -> bool {
        st.leases.get(&chunk).is_some_and(|(w, until)| *w == self.worker && *until > Instant::now())
    }
}

impl ChunkLeases for MemoryLeases {
    fn worker(&self) -> &str {
        &self.worker
    }

    async fn claim(&self, chunk: u64) -> Result<bool> {
        let mut st = lock(&self.state);
        let free = st.leases.get(&chunk).is_none_or(|(_, until)| *until <= Instant::now());
        if st.done.contains(&chunk) || !free {
            return Ok(false);
        }
        st.leases.insert(chunk, (self.worker.clone(), Instant::now() + self.ttl));
        Ok(true)
    }

    async fn renew(&self, chunk: u64, next: u64) -> Result<bool> {
        let mut st = lock(&self.state);
        if !self.held_by_us(&st, chunk) {
            return Ok(false);
        }
        st.leases.insert(chunk, (self.worker.clone(), Instant::now() + self.ttl));
        st.checkpoints.insert(chunk, next);
        Ok(true)
    }

    async fn release(&self, chunk: u64) -> Result<()> {
        let mut st = lock(&self.state);
        if self.held_by_us(&st, chunk) {
            st.leases.remove(&chunk);
        }
        Ok(())
    }

    async fn checkpoint(&self, chunk: u64) -> Result<Option<u64>> {
        Ok(lock(&self.state).checkpoints.get(&chunk).copied())
    }

    async fn complete(&self, chunk: u64) -> Result<()> {
        lock(&self.state).done.insert(chunk);
        self.release(chunk).await
    }

    async fn done(&self) -> Result<HashSet<u64>> {
        Ok(lock(&self.state).done.clone())
    }
}

/// An HTTP JSON-RPC server in process that answers 500 to the first `fail_first` requests
/// (all of them with `usize::MAX`), then `eth_blockNumber` = 0x10; counts requests.
#[derive(Clone, Debug)]
pub(crate) struct FlakyServer {
    pub(crate) url: String,
    pub(crate) requests: Arc<std::sync::atomic::AtomicUsize>,
}

impl FlakyServer {
    pub(crate) async fn start(fail_first: usize) -> Self {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let url = format!("http://{}", listener.local_addr().unwrap_or_else(|e| panic!("{e}")));
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let Ok(n) = conn.read(&mut buf).await else { return };
                    let text = String::from_utf8_lossy(&buf[..n]);
                    let id = text
                        .split("\"id\":")
                        .nth(1)
                        .and_then(|r| r.split([',', '}']).next())
                        .unwrap_or("0")
                        .to_owned();
                    let seen = counter.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = if seen < fail_first {
                        ("500 Internal Server Error", "oops".to_owned())
                    } else {
                        ("200 OK", format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"0x10"}}"#))
                    };
                    let resp = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(resp.as_bytes()).await;
                });
            }
        });
        FlakyServer { url, requests }
    }
}
