//! Gemini's `finishReason` words, read into [`StopReason`] and written from it.
//!
//! Owns: the word list (`Candidate.FinishReason` in Google's API reference). Must never fail:
//! an unknown word reads as [`StopReason::Other`].

use crate::wire::StopReason;

/// A `finishReason` word.
pub(crate) fn read(word: &str) -> StopReason {
    match word {
        "STOP" => StopReason::EndTurn,
        "MAX_TOKENS" => StopReason::MaxTokens,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => StopReason::ContentFilter,
        // FINISH_REASON_UNSPECIFIED, OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL,
        // UNEXPECTED_TOOL_CALL, IMAGE_OTHER, NO_IMAGE, and anything newer.
        _ => StopReason::Other,
    }
}

/// The `finishReason` word for a stop reason: Gemini says `STOP` for a stop sequence and for
/// an answer that calls tools (the `functionCall` parts say the rest).
pub(crate) fn word(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence | StopReason::ToolUse => "STOP",
        StopReason::MaxTokens => "MAX_TOKENS",
        StopReason::ContentFilter | StopReason::Refusal => "SAFETY",
        StopReason::Other => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_or_read_as_their_nearest() {
        for w in ["STOP", "MAX_TOKENS", "SAFETY", "OTHER"] {
            assert_eq!(word(read(w)), w);
        }
        assert_eq!(read("RECITATION"), StopReason::ContentFilter);
        assert_eq!(read("IMAGE_PROHIBITED_CONTENT"), StopReason::ContentFilter);
        assert_eq!(read("NO_IMAGE"), StopReason::Other);
        assert_eq!(read("MALFORMED_FUNCTION_CALL"), StopReason::Other);
        assert_eq!(word(StopReason::ToolUse), "STOP");
        assert_eq!(word(StopReason::Refusal), "SAFETY");
    }
}
