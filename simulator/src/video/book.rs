//! The task book: every video task of one simulator, keyed by its upstream id, bounded.
//! Ids and timings come from the seed and the creation order (same seed, same order: same
//! ids, same timings). When full, the oldest task is evicted if it has ended (or is stuck);
//! if it is still live the create is refused (the provider's 429).
//! Owns the tasks and their ids; must never hold result bytes or build answers.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::task::{NewTask, Task};
use crate::gen::words::splitmix;
use crate::{Provider, VideoConfig};

/// The book is full of live tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the simulator's task book is full")]
pub(crate) struct Full;

struct Inner {
    seq: u64,
    tasks: HashMap<Arc<str>, Task>,
    /// Ids in creation order (may hold ids already removed; compacted when long).
    order: VecDeque<Arc<str>>,
}

/// The video tasks of one simulator.
pub(crate) struct TaskBook {
    seed: u64,
    config: VideoConfig,
    inner: Mutex<Inner>,
}

fn uuid(a: u64, b: u64) -> String {
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

fn base36(mut n: u64, len: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        out.push(DIGITS[usize::try_from(n % 36).unwrap_or(0)]);
        n /= 36;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A task id in the provider's own style, from two random words.
fn id_for(provider: Provider, a: u64, b: u64) -> String {
    match provider {
        Provider::OpenAi => format!("video_{a:016x}{b:016x}"),
        Provider::Kling => format!("{}", 800_000_000_000_000_000 + a % 100_000_000_000_000_000),
        Provider::Runway | Provider::Luma | Provider::Dashscope => uuid(a, b),
        Provider::Zhipu => format!("{}-{}", a % 10_000_000_000_000_000_000, b % 10_000_000_000),
        Provider::Viggle => format!("job_{a:016x}{:08x}", b & 0xffff_ffff),
        Provider::Gemini => base36(a, 12),
        Provider::Vertex => format!("{}", a % 10_000_000_000_000_000_000),
        Provider::Anthropic | Provider::Xai | Provider::GoogleOAuth => format!("task_{a:016x}"),
    }
}

impl TaskBook {
    pub(crate) fn new(seed: u64, config: VideoConfig) -> Self {
        TaskBook {
            seed,
            config,
            inner: Mutex::new(Inner {
                seq: 0,
                tasks: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The jittered queue and run times of task `seq` (±25 %, seeded).
    fn timing(&self, rng: &mut u64) -> (Duration, Duration, u32) {
        let c = &self.config;
        let mut jitter = |d: Duration| {
            if !c.jitter {
                return d;
            }
            let u = (splitmix(rng) >> 11) as f64 / (1u64 << 53) as f64;
            d.mul_f64(0.75 + 0.5 * u)
        };
        (jitter(c.queue), jitter(c.run), c.steps.max(1))
    }

    /// Makes room for one more task, evicting the oldest if it has ended (or is stuck).
    fn make_room(inner: &mut Inner, cap: usize, now: Instant) -> Result<(), Full> {
        if inner.order.len() > cap.saturating_mul(2).max(64) {
            let Inner { tasks, order, .. } = inner;
            order.retain(|id| tasks.contains_key(id));
        }
        while inner.tasks.len() >= cap.max(1) {
            let Some(oldest) = inner.order.front().cloned() else {
                return Err(Full);
            };
            match inner.tasks.get(&oldest) {
                None => {}
                Some(t) if t.faults.stuck || t.phase(now).is_terminal() => {
                    inner.tasks.remove(&oldest);
                }
                Some(_) => return Err(Full),
            }
            inner.order.pop_front();
        }
        Ok(())
    }

    /// Adds a task; returns its id and record.
    pub(crate) fn create(&self, new: NewTask) -> Result<(Arc<str>, Task), Full> {
        let now = Instant::now();
        let mut inner = self.lock();
        Self::make_room(&mut inner, self.config.capacity, now)?;
        inner.seq += 1;
        let seq = inner.seq;
        let mut rng = self.seed ^ seq.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let timing = self.timing(&mut rng);
        let mut id: Arc<str> = id_for(new.provider, splitmix(&mut rng), splitmix(&mut rng)).into();
        for _ in 0..4 {
            if !inner.tasks.contains_key(&id) {
                break;
            }
            id = id_for(new.provider, splitmix(&mut rng), splitmix(&mut rng)).into();
        }
        let task = Task::new(new, seq, timing);
        inner.tasks.insert(id.clone(), task.clone());
        inner.order.push_back(id.clone());
        Ok((id, task))
    }

    /// The task `id` of `provider`.
    pub(crate) fn get(&self, provider: Provider, id: &str) -> Option<Task> {
        self.lock()
            .tasks
            .get(id)
            .filter(|t| t.provider == provider)
            .cloned()
    }

    /// Cancels a live task (an ended one is left as it is); returns the task.
    pub(crate) fn cancel(&self, provider: Provider, id: &str) -> Option<Task> {
        let now = Instant::now();
        let mut inner = self.lock();
        let t = inner.tasks.get_mut(id).filter(|t| t.provider == provider)?;
        if !t.phase(now).is_terminal() {
            t.cancelled = Some(t.elapsed(now));
        }
        Some(t.clone())
    }

    /// Removes a task; returns it.
    pub(crate) fn remove(&self, provider: Provider, id: &str) -> Option<Task> {
        let mut inner = self.lock();
        if inner.tasks.get(id)?.provider != provider {
            return None;
        }
        inner.tasks.remove(id)
    }

    /// The tasks of `provider`, oldest first.
    pub(crate) fn list(&self, provider: Provider) -> Vec<(Arc<str>, Task)> {
        let inner = self.lock();
        inner
            .order
            .iter()
            .filter_map(|id| {
                let t = inner.tasks.get(id)?;
                (t.provider == provider).then(|| (id.clone(), t.clone()))
            })
            .collect()
    }

    /// The queue and run times of a task (any provider).
    pub(crate) fn timings(&self, id: &str) -> Option<(Duration, Duration)> {
        self.lock().tasks.get(id).map(|t| (t.queue, t.run))
    }

    /// Tasks held now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().tasks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::faults::TaskFaults;
    use crate::video::task::Route;

    fn new(provider: Provider) -> NewTask {
        NewTask {
            provider,
            route: Route::Text,
            model: "m".into(),
            prompt: "p".into(),
            seconds: 4,
            size: "s".into(),
            origin: None,
            callback: None,
            faults: TaskFaults::default(),
        }
    }

    #[tokio::test]
    async fn same_seed_same_ids_and_timings() {
        let a = TaskBook::new(7, VideoConfig::default());
        let b = TaskBook::new(7, VideoConfig::default());
        let c = TaskBook::new(8, VideoConfig::default());
        for p in [
            Provider::OpenAi,
            Provider::Kling,
            Provider::Runway,
            Provider::Viggle,
        ] {
            let (ia, ta) = a.create(new(p)).unwrap();
            let (ib, tb) = b.create(new(p)).unwrap();
            let (ic, _) = c.create(new(p)).unwrap();
            assert_eq!((&ia, ta.queue, ta.run), (&ib, tb.queue, tb.run));
            assert_ne!(ia, ic);
        }
        assert!(a.get(Provider::Luma, "nope").is_none());
    }

    #[tokio::test]
    async fn a_full_book_evicts_ended_tasks_and_refuses_when_all_live() {
        let config = VideoConfig {
            capacity: 2,
            queue: Duration::from_secs(60),
            ..VideoConfig::default()
        };
        let book = TaskBook::new(1, config);
        let (first, _) = book.create(new(Provider::Luma)).unwrap();
        book.create(new(Provider::Luma)).unwrap();
        assert_eq!(book.create(new(Provider::Luma)).err(), Some(Full));
        book.cancel(Provider::Luma, &first).unwrap();
        book.create(new(Provider::Luma)).unwrap();
        assert!(book.get(Provider::Luma, &first).is_none());
        assert_eq!(book.len(), 2);
    }
}
