//! Which key a replica takes, and why it waits when it can take none.
//!
//! Among the keys that are free (no lease, not cooling) and have quota left today (the last
//! 24 hours below `requests-per-day`; a key at its quota is parked until its window frees),
//! the order of preference is the fewest requests in the last 24 hours, then the pseudonym.
//! The replica tries them in that order (another replica may take one between the read and
//! the `SET NX`). With none to try it waits, saying which keys are held, cooling or parked.

use super::lease::KeyState;
use super::ledger::KeyUsage;

/// What is known of one key when choosing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub pseudonym: String,
    pub state: KeyState,
    pub usage: KeyUsage,
    pub per_day: Option<u64>,
}

/// Where a key stands for `keys status` and for the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Free,
    Leased,
    Cooling,
    Parked,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Free => "free",
            Standing::Leased => "leased",
            Standing::Cooling => "cooling",
            Standing::Parked => "parked",
        }
    }
}

impl Candidate {
    /// Parked beats cooling beats leased: a parked key is out for the longest.
    pub fn standing(&self) -> Standing {
        if self.per_day.is_some_and(|q| self.usage.last_24h >= q) {
            Standing::Parked
        } else if self.state.cooling_ms.is_some() {
            Standing::Cooling
        } else if self.state.holder.is_some() {
            Standing::Leased
        } else {
            Standing::Free
        }
    }

    /// Requests left in the key's 24-hour window (`None`: no daily quota).
    pub fn remaining(&self) -> Option<u64> {
        self.per_day.map(|q| q.saturating_sub(self.usage.last_24h))
    }
}

/// Why a replica holds no key: the pseudonyms in each standing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Waiting {
    pub held: Vec<String>,
    pub cooling: Vec<String>,
    pub parked: Vec<String>,
}

impl std::fmt::Display for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[String]| if v.is_empty() { "none".to_owned() } else { v.join(", ") };
        write!(
            f,
            "held: {}; cooling: {}; parked: {}",
            list(&self.held),
            list(&self.cooling),
            list(&self.parked)
        )
    }
}

/// The free keys in order of preference (indices into `keys`), or why there is none.
/// `avoid` (the key just given up when rotating) goes last, so usage moves on when it can.
pub fn preference(keys: &[Candidate], avoid: Option<&str>) -> Result<Vec<usize>, Waiting> {
    let mut free: Vec<usize> = (0..keys.len()).filter(|i| keys[*i].standing() == Standing::Free).collect();
    if free.is_empty() {
        let mut w = Waiting::default();
        for k in keys {
            match k.standing() {
                Standing::Leased => w.held.push(k.pseudonym.clone()),
                Standing::Cooling => w.cooling.push(k.pseudonym.clone()),
                Standing::Parked => w.parked.push(k.pseudonym.clone()),
                Standing::Free => {}
            }
        }
        return Err(w);
    }
    free.sort_by(|a, b| {
        let (ka, kb) = (&keys[*a], &keys[*b]);
        (Some(ka.pseudonym.as_str()) == avoid, ka.usage.last_24h, &ka.pseudonym).cmp(&(
            Some(kb.pseudonym.as_str()) == avoid,
            kb.usage.last_24h,
            &kb.pseudonym,
        ))
    });
    Ok(free)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, used: u64) -> Candidate {
        Candidate {
            pseudonym: name.into(),
            state: KeyState::default(),
            usage: KeyUsage { last_24h: used, ..KeyUsage::default() },
            per_day: Some(1_000),
        }
    }

    #[test]
    fn the_least_used_free_key_comes_first() {
        let keys = [key("a", 500), key("b", 20), key("c", 20), key("d", 0)];
        assert_eq!(preference(&keys, None), Ok(vec![3, 1, 2, 0]));
    }

    #[test]
    fn held_cooling_and_parked_keys_are_never_offered() {
        let mut keys = vec![key("a", 0), key("b", 0), key("c", 1_000), key("d", 10)];
        keys[0].state.holder = Some(("replica-2".into(), 9_000));
        keys[1].state.cooling_ms = Some(30_000);
        assert_eq!(preference(&keys, None), Ok(vec![3]));
        assert_eq!(keys[2].standing(), Standing::Parked);
        assert_eq!(keys[2].remaining(), Some(0));
    }

    #[test]
    fn with_none_free_the_wait_says_why() {
        let mut keys = vec![key("a", 0), key("b", 0), key("c", 1_200)];
        keys[0].state.holder = Some(("replica-2".into(), 9_000));
        keys[1].state.cooling_ms = Some(1);
        let w = preference(&keys, None).unwrap_err();
        assert_eq!(w.to_string(), "held: a; cooling: b; parked: c");
    }

    #[test]
    fn a_rotating_replica_moves_on_when_another_key_is_free() {
        let keys = [key("a", 0), key("b", 50)];
        assert_eq!(preference(&keys, Some("a")), Ok(vec![1, 0]));
        assert_eq!(preference(&keys[..1], Some("a")), Ok(vec![0]), "alone, it keeps the same key");
    }
}
