//! A channel's keys: rotation, keys set aside (rejected credentials, exhausted quota) and keys
//! cooling down after a rate limit.
//!
//! Owns: which key the next attempt uses and the state of each key.
//! Must never: expose a key's value outside [`Secret`] (snapshots carry hints only).

use crate::config::Secret;
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use tokio::time::Instant;

/// Why a key was set aside: it stays aside until an operator enables the channel again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetAside {
    /// 401/403: the upstream rejected the credentials.
    Auth,
    /// Its quota or credit is used up (as its provider read the upstream's answer).
    Quota,
}

#[derive(Clone, Copy, Debug, Default)]
struct KeyState {
    aside: Option<SetAside>,
    cooling_until: Option<Instant>,
}

pub(super) struct KeyRing {
    keys: Vec<Secret>,
    state: Mutex<Vec<KeyState>>,
    next: AtomicUsize,
}

/// A key picked for one attempt.
#[derive(Clone, Debug)]
pub(super) struct PickedKey {
    pub index: usize,
    pub secret: Secret,
}

/// Why no key could be picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NoKey {
    /// Every usable key cools down; the first is ready then.
    CoolingUntil(Instant),
    /// Every key is set aside.
    AllSetAside,
}

#[derive(Clone, Debug, Serialize)]
pub struct KeySnapshot {
    /// The key's hint (first and last characters), never its value.
    pub hint: String,
    /// `ok`, `cooling`, or why it was set aside (`auth`, `quota`).
    pub state: &'static str,
}

impl KeyRing {
    pub(super) fn new(keys: Vec<Secret>) -> Self {
        let state = vec![KeyState::default(); keys.len()];
        Self {
            keys,
            state: Mutex::new(state),
            next: AtomicUsize::new(0),
        }
    }

    /// The key at `index`, whatever its state (a video task stays on the key that made it).
    pub(super) fn get(&self, index: usize) -> Option<&Secret> {
        self.keys.get(index)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<KeyState>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next usable key in rotation.
    pub(super) fn pick(&self, now: Instant) -> Result<PickedKey, NoKey> {
        let state = self.lock();
        let n = self.keys.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            let index = (start + i) % n;
            if usable(&state[index], now) {
                if i > 0 {
                    // Skip past the keys we stepped over so rotation stays fair.
                    self.next.store(start + i + 1, Ordering::Relaxed);
                }
                return Ok(PickedKey {
                    index,
                    secret: self.keys[index].clone(),
                });
            }
        }
        Err(no_key(&state))
    }

    /// Whether [`KeyRing::pick`] would find a key now.
    pub(super) fn check(&self, now: Instant) -> Result<(), NoKey> {
        let state = self.lock();
        if state.iter().any(|k| usable(k, now)) {
            Ok(())
        } else {
            Err(no_key(&state))
        }
    }

    /// Sets a key aside. Returns true when every key is now set aside for `Auth`.
    pub(super) fn set_aside(&self, index: usize, why: SetAside) -> bool {
        let mut state = self.lock();
        if let Some(k) = state.get_mut(index) {
            k.aside = Some(why);
        }
        state.iter().all(|k| k.aside == Some(SetAside::Auth))
    }

    pub(super) fn cool(&self, index: usize, until: Instant) {
        if let Some(k) = self.lock().get_mut(index) {
            k.cooling_until = Some(k.cooling_until.map_or(until, |u| u.max(until)));
        }
    }

    /// Every key back in use (an operator enabled the channel).
    pub(super) fn reset(&self) {
        self.lock().fill(KeyState::default());
    }

    pub(super) fn snapshot(&self, now: Instant) -> Vec<KeySnapshot> {
        let state = self.lock();
        self.keys
            .iter()
            .zip(state.iter())
            .map(|(key, s)| KeySnapshot {
                hint: key.hint(),
                state: match s.aside {
                    Some(SetAside::Auth) => "auth",
                    Some(SetAside::Quota) => "quota",
                    None if s.cooling_until.is_some_and(|u| u > now) => "cooling",
                    None => "ok",
                },
            })
            .collect()
    }
}

fn usable(k: &KeyState, now: Instant) -> bool {
    k.aside.is_none() && k.cooling_until.is_none_or(|u| u <= now)
}

fn no_key(state: &[KeyState]) -> NoKey {
    state
        .iter()
        .filter(|k| k.aside.is_none())
        .filter_map(|k| k.cooling_until)
        .min()
        .map_or(NoKey::AllSetAside, NoKey::CoolingUntil)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ring() -> KeyRing {
        KeyRing::new(vec![
            Secret::new("sk-aaaaaaaa1"),
            Secret::new("sk-bbbbbbbb2"),
            Secret::new("sk-cccccccc3"),
        ])
    }

    #[test]
    fn rotates_and_skips_keys_set_aside_or_cooling() {
        let r = ring();
        let now = Instant::now();
        let picks: Vec<usize> = (0..3).map(|_| r.pick(now).unwrap().index).collect();
        assert_eq!(picks, [0, 1, 2]);
        assert!(!r.set_aside(1, SetAside::Auth));
        r.cool(2, now + Duration::from_secs(1));
        let picks: Vec<usize> = (0..3).map(|_| r.pick(now).unwrap().index).collect();
        assert_eq!(picks, [0, 0, 0]);
        assert_eq!(r.pick(now + Duration::from_secs(1)).unwrap().index, 2);
        r.set_aside(0, SetAside::Quota);
        assert_eq!(
            r.pick(now).map(|k| k.index),
            Err(NoKey::CoolingUntil(now + Duration::from_secs(1)))
        );
        let states: Vec<&str> = r.snapshot(now).iter().map(|k| k.state).collect();
        assert_eq!(states, ["quota", "auth", "cooling"]);
        assert!(r.snapshot(now).iter().all(|k| k.hint.contains("***")));
    }

    #[test]
    fn all_keys_rejected_for_auth_is_reported_once_complete() {
        let r = ring();
        assert!(!r.set_aside(0, SetAside::Auth));
        assert!(!r.set_aside(1, SetAside::Auth));
        assert!(r.set_aside(2, SetAside::Auth));
        assert_eq!(r.check(Instant::now()), Err(NoKey::AllSetAside));
        r.reset();
        assert!(r.check(Instant::now()).is_ok());
    }
}
