//! OpenAI's `finish_reason` words, read into [`StopReason`] and written from it.
//!
//! Owns: the word list. Must never fail: an unknown word reads as [`StopReason::Other`].

use crate::wire::StopReason;

/// A `finish_reason` word.
pub(crate) fn read(word: &str) -> StopReason {
    match word {
        "stop" => StopReason::EndTurn,
        "length" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::ContentFilter,
        _ => StopReason::Other,
    }
}

/// The `finish_reason` word for a stop reason (a refusal is filtered content to OpenAI).
pub(crate) fn word(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence | StopReason::Other => "stop",
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::ContentFilter | StopReason::Refusal => "content_filter",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_round_trips_or_reads_as_a_normal_end() {
        for w in ["stop", "length", "tool_calls", "content_filter"] {
            assert_eq!(word(read(w)), w);
        }
        assert_eq!(read("function_call"), StopReason::ToolUse);
        assert_eq!(read("weird"), StopReason::Other);
        assert_eq!(word(StopReason::Refusal), "content_filter");
    }
}
