//! The task-level faults of one video task, gathered at submit from the faults the fault
//! layer chose for the request (`x-sim-fault`, `<<sim:...>>`, scenario, mix) and from
//! `[sim:FAULT, ...]` markers in the task's text (its prompt), which pass through any front.
//! Owns the gathering; must never apply a fault (the task, content and callback code do).

use std::time::Duration;

use crate::faults::select::ChosenFaults;
use crate::faults::spec::{Fault, FaultError, FaultSet};

/// The faults a task carries for its whole life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TaskFaults {
    pub(crate) fail: bool,
    pub(crate) stuck: bool,
    pub(crate) expire: bool,
    pub(crate) poll_malformed: bool,
    pub(crate) callback_delay: Option<Duration>,
    pub(crate) callback_dup: bool,
    pub(crate) callback_never: bool,
    pub(crate) content_cut: Option<usize>,
    pub(crate) run: Option<Duration>,
}

impl TaskFaults {
    fn add(&mut self, set: &FaultSet) {
        for f in &set.0 {
            match f {
                Fault::TaskFail => self.fail = true,
                Fault::TaskStuck => self.stuck = true,
                Fault::TaskExpire => self.expire = true,
                Fault::PollMalformed => self.poll_malformed = true,
                Fault::CallbackDelay(d) => self.callback_delay = Some(*d),
                Fault::CallbackDup => self.callback_dup = true,
                Fault::CallbackNever => self.callback_never = true,
                Fault::ContentCut(n) => self.content_cut = Some(*n),
                Fault::TaskRun(d) => self.run = Some(*d),
                Fault::Status(_)
                | Fault::RetryAfter(_)
                | Fault::Truncate(_)
                | Fault::Cut(_)
                | Fault::StallHeaders(_)
                | Fault::StallAfter(_)
                | Fault::Delay(_)
                | Fault::Drip(..)
                | Fault::Reset
                | Fault::Blackhole
                | Fault::Malformed
                | Fault::Oversize(_)
                | Fault::ErrorEvent(_)
                | Fault::NoDone
                | Fault::EchoKey
                | Fault::StallUpload(_)
                | Fault::StallDownload(_)
                | Fault::CutBeforeCompleted
                | Fault::ModerationBlocked => {}
            }
        }
    }

    /// The stats names of the faults set (counted once per task, at submit).
    pub(crate) fn kinds(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let flags = [
            (self.fail, "task-fail"),
            (self.stuck, "task-stuck"),
            (self.expire, "task-expire"),
            (self.poll_malformed, "poll-malformed"),
            (self.callback_delay.is_some(), "callback-delay"),
            (self.callback_dup, "callback-dup"),
            (self.callback_never, "callback-never"),
            (self.content_cut.is_some(), "content-cut"),
        ];
        for (on, name) in flags {
            if on {
                out.push(name);
            }
        }
        out
    }
}

/// Every `[sim:...]` marker's spec in `text`.
fn markers(text: &str) -> impl Iterator<Item = &str> {
    text.split("[sim:")
        .skip(1)
        .filter_map(|rest| rest.split_once(']').map(|(spec, _)| spec))
}

/// The task faults of a create: those the layer chose, then each marker in `texts`.
pub(crate) fn gather(
    chosen: Option<&ChosenFaults>,
    texts: &[&str],
) -> Result<TaskFaults, FaultError> {
    let mut out = TaskFaults::default();
    if let Some(c) = chosen {
        out.add(&c.0);
    }
    for text in texts {
        for spec in markers(text) {
            out.add(&FaultSet::parse(spec)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_chosen_faults_combine() {
        let chosen = ChosenFaults(FaultSet::parse("task-expire, status=500").unwrap());
        let f = gather(
            Some(&chosen),
            &["a cat [sim:task-fail] on a [sim:run=50ms, content-cut=10] boat"],
        )
        .unwrap();
        assert!(f.fail && f.expire && !f.stuck);
        assert_eq!(f.run, Some(Duration::from_millis(50)));
        assert_eq!(f.content_cut, Some(10));
        assert_eq!(f.kinds(), vec!["task-fail", "task-expire", "content-cut"]);
        assert!(gather(None, &["[sim:bogus]"]).is_err());
        assert_eq!(
            gather(None, &["[sim:task-fail"]).unwrap(),
            TaskFaults::default()
        );
    }
}
