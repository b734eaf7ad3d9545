//! A task's states: the OpenAI video API's four, and the relay's own `cancelled` and `expired`.
//!
//! Owns: the state words clients see, which states are terminal and which transitions are
//! allowed. Must never: name a provider's words (each provider maps its own to these).

use serde::{Deserialize, Serialize};

/// Where a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Queued,
    InProgress,
    Completed,
    Failed,
    /// Cancelled by the client (`DELETE` before it ended) or by the upstream.
    Cancelled,
    /// Passed its deadline without ending; the relay stopped polling it and refunded it.
    Expired,
}

impl TaskState {
    pub const ALL: [TaskState; 6] = [
        Self::Queued,
        Self::InProgress,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the task has ended (it is never polled again and its charge is settled).
    pub fn is_terminal(self) -> bool {
        match self {
            Self::Queued | Self::InProgress => false,
            Self::Completed | Self::Failed | Self::Cancelled | Self::Expired => true,
        }
    }

    /// Whether a task in this state may move to `next`: forward only, never out of a terminal
    /// state, never back from in progress to queued (a late or reordered report changes
    /// nothing).
    pub fn may_become(self, next: TaskState) -> bool {
        match (self, next) {
            (a, b) if a.is_terminal() => {
                let _ = b;
                false
            }
            (Self::InProgress, Self::Queued) => false,
            _ => true,
        }
    }

    /// Whether the charge made at creation is refunded when the task ends here.
    pub fn refunds(self) -> bool {
        match self {
            Self::Failed | Self::Cancelled | Self::Expired => true,
            Self::Queued | Self::InProgress | Self::Completed => false,
        }
    }
}

/// Why a task failed, as the client sees it (`error{code, message}`), redacted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailure {
    pub code: String,
    pub message: String,
}

impl TaskFailure {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: crate::wire::bounded(code.into()),
            message: crate::wire::bounded(message.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_stay() {
        for a in TaskState::ALL {
            for b in TaskState::ALL {
                if a.is_terminal() {
                    assert!(!a.may_become(b), "{a:?} -> {b:?}");
                }
            }
            assert_eq!(TaskState::parse(a.as_str()), Some(a));
        }
        assert!(TaskState::Queued.may_become(TaskState::Completed));
        assert!(!TaskState::InProgress.may_become(TaskState::Queued));
    }
}
