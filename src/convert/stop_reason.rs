//! The two stop-reason vocabularies and the maps between them, and the rule that an answer with
//! tool calls asks for its tools to run whatever word its upstream used.
//!
//! Owns: `finish_reason` <-> `stop_reason`. Must never fail: an unknown value maps to the
//! plain "finished normally" value of the other side.

/// Anthropic `stop_reason` -> OpenAI `finish_reason`.
pub(crate) fn to_openai(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn, and anything newer.
        _ => "stop",
    }
}

/// OpenAI `finish_reason` -> Anthropic `stop_reason`.
pub(crate) fn to_anthropic(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        // stop, and anything unknown.
        _ => "end_turn",
    }
}

/// The Anthropic stop reason of an answer that holds tool calls (`tools`): one that ended
/// normally (`end_turn`, as an upstream's `stop`, none or an unknown word maps) asks for its
/// tools to run, `tool_use`, as clients' tool runners expect; a cut (`max_tokens`) or refused
/// answer keeps its reason.
pub(crate) fn anthropic_given_tools(reason: &'static str, tools: bool) -> &'static str {
    if tools && reason == "end_turn" {
        "tool_use"
    } else {
        reason
    }
}

/// The OpenAI finish reason of an answer that holds tool calls: `stop` becomes `tool_calls`
/// (the same rule as [`anthropic_given_tools`]).
pub(crate) fn openai_given_tools(reason: &'static str, tools: bool) -> &'static str {
    if tools && reason == "stop" {
        "tool_calls"
    } else {
        reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_that_ended_normally_ask_for_their_tools() {
        for (finish, want) in [
            ("stop", "tool_use"),
            ("weird", "tool_use"),
            ("tool_calls", "tool_use"),
            ("length", "max_tokens"),
            ("content_filter", "refusal"),
        ] {
            assert_eq!(
                anthropic_given_tools(to_anthropic(finish), true),
                want,
                "{finish}"
            );
        }
        assert_eq!(anthropic_given_tools("end_turn", false), "end_turn");
        for (stop, want) in [
            ("end_turn", "tool_calls"),
            ("stop_sequence", "tool_calls"),
            ("tool_use", "tool_calls"),
            ("max_tokens", "length"),
            ("refusal", "content_filter"),
        ] {
            assert_eq!(openai_given_tools(to_openai(stop), true), want, "{stop}");
        }
        assert_eq!(openai_given_tools("stop", false), "stop");
    }

    #[test]
    fn every_anthropic_reason() {
        for (a, o) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("tool_use", "tool_calls"),
            ("refusal", "content_filter"),
            ("pause_turn", "stop"),
            ("model_context_window_exceeded", "length"),
            ("something_new", "stop"),
        ] {
            assert_eq!(to_openai(a), o, "{a}");
        }
    }

    #[test]
    fn every_openai_reason() {
        for (o, a) in [
            ("stop", "end_turn"),
            ("length", "max_tokens"),
            ("tool_calls", "tool_use"),
            ("function_call", "tool_use"),
            ("content_filter", "refusal"),
            ("weird", "end_turn"),
        ] {
            assert_eq!(to_anthropic(o), a, "{o}");
        }
    }
}
