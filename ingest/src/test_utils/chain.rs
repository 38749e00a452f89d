//! [`ScriptedChain`]: a `BlockSource` whose head grows and reorganises on a script, and whose
//! answers at some heights do not prove.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use alloy::primitives::B256;
use serde_json::json;

use crate::source::BlockSource;
use crate::verify::raw::RawBlock;
use crate::{Error, Result};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind: keep using it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The hash of height `number` on branch `branch` (branch 0 is the original chain).
pub fn block_hash(number: u64, branch: u64) -> B256 {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&branch.to_be_bytes());
    bytes[24..].copy_from_slice(&number.to_be_bytes());
    B256::from(bytes)
}

/// A change of the scripted chain.
#[derive(Debug, Clone, Copy)]
pub enum Step {
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
pub struct ScriptedChain {
    state: Arc<Mutex<ChainState>>,
}

impl ScriptedChain {
    /// Heights `0..=head` on branch 0.
    pub fn new(head: u64) -> Self {
        let state = ChainState { branches: vec![0; head as usize + 1], ..ChainState::default() };
        ScriptedChain { state: Arc::new(Mutex::new(state)) }
    }

    /// Steps applied one per `head()` call (`None`: the head stays).
    pub fn on_head(self, steps: impl IntoIterator<Item = Option<Step>>) -> Self {
        lock(&self.state).on_head.extend(steps);
        self
    }

    /// `step` is applied once the block at `height` has been served.
    pub fn after_fetch(self, height: u64, step: Step) -> Self {
        lock(&self.state).after_fetch.insert(height, step);
        self
    }

    /// The next `times` fetches of `height` do not prove (`usize::MAX`: never).
    pub fn lie_at(self, height: u64, times: usize) -> Self {
        lock(&self.state).lies.insert(height, times);
        self
    }
}

impl BlockSource for ScriptedChain {
    type HeadCursor = ();

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
