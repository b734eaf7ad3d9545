//! Why an answer stopped, in neutral words, and the rule that an answer with tool calls asks for
//! its tools to run whatever word its upstream used.
//!
//! Owns: [`StopReason`]. Must never: fail; each format reads its own words into it
//! (`providers::<name>`), an unknown word as [`StopReason::Other`].

/// Why an answer stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Finished normally.
    EndTurn,
    /// Reached the token limit (or the context window).
    MaxTokens,
    /// Met one of the request's stop sequences.
    StopSequence,
    /// Asks for its tool calls to run.
    ToolUse,
    /// Cut by the provider's content filter.
    ContentFilter,
    /// The model declined to answer.
    Refusal,
    /// A word this relay does not know (or a pause): read as a normal end.
    Other,
}

impl StopReason {
    /// The stop reason of an answer that holds tool calls (`tools`): one that ended normally
    /// (`EndTurn`, a stop sequence, or an unknown word) asks for its tools to run, as clients'
    /// tool runners expect; a cut or refused answer keeps its reason.
    pub fn given_tools(self, tools: bool) -> StopReason {
        match self {
            Self::EndTurn | Self::StopSequence | Self::Other if tools => Self::ToolUse,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_that_ended_normally_ask_for_their_tools() {
        for (reason, want) in [
            (StopReason::EndTurn, StopReason::ToolUse),
            (StopReason::StopSequence, StopReason::ToolUse),
            (StopReason::Other, StopReason::ToolUse),
            (StopReason::ToolUse, StopReason::ToolUse),
            (StopReason::MaxTokens, StopReason::MaxTokens),
            (StopReason::ContentFilter, StopReason::ContentFilter),
            (StopReason::Refusal, StopReason::Refusal),
        ] {
            assert_eq!(reason.given_tools(true), want, "{reason:?}");
            assert_eq!(reason.given_tools(false), reason, "{reason:?}");
        }
    }
}
