//! Anthropic's `stop_reason` words, read into [`StopReason`] and written from it.
//!
//! Owns: the word list. Must never fail: an unknown word (and `pause_turn`) reads as
//! [`StopReason::Other`].

use crate::wire::StopReason;

/// A `stop_reason` word.
pub(crate) fn read(word: &str) -> StopReason {
    match word {
        "end_turn" => StopReason::EndTurn,
        "stop_sequence" => StopReason::StopSequence,
        "max_tokens" | "model_context_window_exceeded" => StopReason::MaxTokens,
        "tool_use" => StopReason::ToolUse,
        "refusal" => StopReason::Refusal,
        // pause_turn, and anything newer.
        _ => StopReason::Other,
    }
}

/// The `stop_reason` word for a stop reason (filtered content is a refusal to Anthropic).
pub(crate) fn word(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::Other => "end_turn",
        StopReason::StopSequence => "stop_sequence",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ToolUse => "tool_use",
        StopReason::ContentFilter | StopReason::Refusal => "refusal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_round_trips_or_reads_as_a_normal_end() {
        for w in [
            "end_turn",
            "stop_sequence",
            "max_tokens",
            "tool_use",
            "refusal",
        ] {
            assert_eq!(word(read(w)), w);
        }
        assert_eq!(read("model_context_window_exceeded"), StopReason::MaxTokens);
        assert_eq!(read("pause_turn"), StopReason::Other);
        assert_eq!(word(StopReason::ContentFilter), "refusal");
    }
}
