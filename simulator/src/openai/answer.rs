//! The answer to an OpenAI-shaped chat request: choices (text or tool call) and usage.
//! Owns finish reasons and token arithmetic; must never serialise wire shapes.

use serde_json::{json, Value};

use crate::gen::tools::fragments;
use crate::gen::words::{Finish, Plan};

/// A tool call made by the simulated model.
#[derive(Clone, Debug)]
pub(crate) struct ToolCall {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) arguments: String,
}

/// What one choice says.
#[derive(Clone, Debug)]
pub(crate) enum Content {
    Text(Plan),
    Tool(ToolCall),
}

/// One choice, with optional reasoning text (xAI mini models).
#[derive(Clone, Debug)]
pub(crate) struct Choice {
    pub(crate) content: Content,
    pub(crate) reasoning: Option<Plan>,
}

impl Choice {
    pub(crate) fn finish_reason(&self) -> &'static str {
        match &self.content {
            Content::Tool(_) => "tool_calls",
            Content::Text(p) if p.finish == Finish::Length => "length",
            Content::Text(_) => "stop",
        }
    }

    /// Completion tokens: one per word, or per argument fragment plus one for a call.
    pub(crate) fn completion_tokens(&self) -> u64 {
        match &self.content {
            Content::Text(p) => p.words.len() as u64,
            Content::Tool(t) => fragments(&t.arguments).len() as u64 + 1,
        }
    }

    pub(crate) fn reasoning_tokens(&self) -> u64 {
        self.reasoning.as_ref().map_or(0, |p| p.words.len() as u64)
    }
}

/// Token usage of a whole answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) prompt: u64,
    pub(crate) completion: u64,
    /// Reasoning tokens, counted apart from completion (xAI: total includes them).
    pub(crate) reasoning: u64,
}

impl Usage {
    pub(crate) fn of(prompt: u64, choices: &[Choice]) -> Self {
        Usage {
            prompt,
            completion: choices.iter().map(Choice::completion_tokens).sum(),
            reasoning: choices.iter().map(Choice::reasoning_tokens).sum(),
        }
    }

    /// The `usage` object of chat and completions responses.
    pub(crate) fn to_json(self) -> Value {
        json!({
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "total_tokens": self.prompt + self.completion + self.reasoning,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0
            }
        })
    }
}
