//! Unit tests of `MessagesToChatStream` on recorded-style Anthropic streams (providers.md §2.1).

use serde_json::{json, Value};

use super::*;

/// Feed `(event, data)` pairs; return every emitted data line, parsed ("[DONE]" kept as a string).
fn run(s: &mut MessagesToChatStream, events: &[(&str, Value)]) -> Vec<Value> {
    let mut out = Vec::new();
    for (e, d) in events {
        for o in s.push(Some(e), &d.to_string()).unwrap() {
            assert_eq!(o.event, None);
            out.push(serde_json::from_str(&o.data).unwrap_or(Value::String(o.data)));
        }
    }
    out
}

fn text_stream() -> Vec<(&'static str, Value)> {
    vec![
        (
            "message_start",
            json!({"type":"message_start","message":{"id":"msg_01AbC","type":"message","role":"assistant",
            "model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,
            "usage":{"input_tokens":12,"output_tokens":1,"cache_read_input_tokens":3}}}),
        ),
        (
            "content_block_start",
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        ),
        ("ping", json!({"type":"ping"})),
        (
            "content_block_delta",
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}),
        ),
        (
            "content_block_delta",
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}),
        ),
        (
            "content_block_stop",
            json!({"type":"content_block_stop","index":0}),
        ),
        (
            "message_delta",
            json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":6}}),
        ),
        ("message_stop", json!({"type":"message_stop"})),
    ]
}

#[test]
fn text_stream_with_usage() {
    let mut s = MessagesToChatStream::new("my-model", true);
    let out = run(&mut s, &text_stream());
    assert_eq!(out.len(), 6);
    for c in &out[..5] {
        assert_eq!(c["id"], "chatcmpl-01AbC");
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "my-model");
        assert_eq!(c["created"], out[0]["created"]);
    }
    for c in &out[..4] {
        assert_eq!(c["usage"], Value::Null);
        assert!(c.as_object().unwrap().contains_key("usage"));
    }
    assert_eq!(
        out[0]["choices"][0]["delta"],
        json!({"role":"assistant","content":""})
    );
    assert_eq!(out[1]["choices"][0]["delta"], json!({"content":"Hello"}));
    assert_eq!(out[2]["choices"][0]["delta"], json!({"content":"!"}));
    assert_eq!(
        out[3]["choices"][0],
        json!({"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"})
    );
    assert_eq!(out[4]["choices"], json!([]));
    assert_eq!(
        out[4]["usage"],
        json!({"prompt_tokens":15,"completion_tokens":6,"total_tokens":21,
        "prompt_tokens_details":{"cached_tokens":3}})
    );
    assert_eq!(out[5], "[DONE]");
    assert_eq!(
        s.usage(),
        Some(Usage {
            prompt_tokens: 15,
            completion_tokens: 6,
            cache_read_tokens: 3,
            cache_creation_tokens: 0
        })
    );
    assert_eq!(s.finish().unwrap(), vec![]);
    assert_eq!(s.push(Some("ping"), r#"{"type":"ping"}"#).unwrap(), vec![]);
}

#[test]
fn without_include_usage_there_is_no_usage_field() {
    let mut s = MessagesToChatStream::new("m", false);
    let out = run(&mut s, &text_stream());
    assert_eq!(out.len(), 5);
    assert!(out[..4].iter().all(|c| c.get("usage").is_none()));
    assert_eq!(out[4], "[DONE]");
    assert_eq!(s.usage().unwrap().completion_tokens, 6);
}

#[test]
fn tool_calls_thinking_and_fragmented_arguments() {
    let mut s = MessagesToChatStream::new("m", false);
    let out = run(
        &mut s,
        &[
            (
                "message_start",
                json!({"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":5,"output_tokens":1}}}),
            ),
            (
                "content_block_start",
                json!({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}}),
            ),
            (
                "content_block_stop",
                json!({"type":"content_block_stop","index":0}),
            ),
            (
                "content_block_start",
                json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}),
            ),
            (
                "content_block_stop",
                json!({"type":"content_block_stop","index":1}),
            ),
            (
                "content_block_start",
                json!({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_2","name":"noop","input":{}}}),
            ),
            (
                "content_block_stop",
                json!({"type":"content_block_stop","index":2}),
            ),
            (
                "message_delta",
                json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}}),
            ),
            ("message_stop", json!({"type":"message_stop"})),
        ],
    );
    let deltas: Vec<&Value> = out
        .iter()
        .filter_map(|c| c.get("choices"))
        .map(|c| &c[0]["delta"])
        .collect();
    assert_eq!(deltas[1], &json!({"reasoning_content":"hmm"}));
    assert_eq!(
        deltas[2],
        &json!({"tool_calls":[{"index":0,"id":"toolu_1","type":"function",
        "function":{"name":"get_weather","arguments":""}}]})
    );
    assert_eq!(
        deltas[3],
        &json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]})
    );
    assert_eq!(
        deltas[4],
        &json!({"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]})
    );
    assert_eq!(deltas[5]["tool_calls"][0]["index"], 1);
    assert_eq!(deltas[5]["tool_calls"][0]["id"], "toolu_2");
    assert_eq!(out[6]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(out[7], "[DONE]");
    assert_eq!(out.len(), 8);
}

#[test]
fn in_stream_error_ends_the_stream() {
    let mut s = MessagesToChatStream::new("m", true);
    let mut events = text_stream();
    events.truncate(4);
    events.push((
        "error",
        json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
    ));
    let out = run(&mut s, &events);
    assert_eq!(
        out.last().unwrap(),
        &json!({"error":{"message":"Overloaded","type":"server_error","param":null,"code":"server_is_overloaded"}})
    );
    assert_eq!(
        s.push(Some("message_stop"), r#"{"type":"message_stop"}"#)
            .unwrap(),
        vec![]
    );
    assert_eq!(s.finish().unwrap(), vec![]);
    assert!(s.upstream_failed());
}

#[test]
fn a_tool_use_that_ended_with_end_turn_is_tool_calls() {
    let mut s = MessagesToChatStream::new("m", false);
    let out = run(
        &mut s,
        &[
            (
                "message_start",
                json!({"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":2}}}),
            ),
            (
                "content_block_start",
                json!({"type":"content_block_start","index":0,
                "content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}),
            ),
            (
                "content_block_stop",
                json!({"type":"content_block_stop","index":0}),
            ),
            (
                "message_delta",
                json!({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}),
            ),
            ("message_stop", json!({"type":"message_stop"})),
        ],
    );
    let finish: Vec<&Value> = out
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| f.is_string())
        .collect();
    assert_eq!(finish, [&json!("tool_calls")]);
    assert!(!s.upstream_failed());
}

#[test]
fn in_stream_errors_lose_secrets_and_undocumented_fields() {
    use crate::config::Secret;
    let error = json!({"type":"error","error":{"type":"overloaded_error",
        "message":"Overloaded for sk-ant-configured or sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
        "debug":{"x-api-key":"sk-ant-configured"}}});
    let shapes_only = run(
        &mut MessagesToChatStream::new("m", false),
        &[("error", error.clone())],
    );
    assert_eq!(
        shapes_only[0]["error"]["message"], "Overloaded for sk-ant-configured or sk-ant-[redacted]",
        "the default knows key shapes only"
    );
    let r = std::sync::Arc::new(Redactor::new(&[Secret::new("sk-ant-configured")]));
    let mut s = MessagesToChatStream::new("m", false).with_redactor(r);
    let out = run(&mut s, &[("error", error)]);
    assert_eq!(
        out[0],
        json!({"error":{"message":"Overloaded for [redacted] or sk-ant-[redacted]",
            "type":"server_error","param":null,"code":"server_is_overloaded"}})
    );
}

#[test]
fn missing_message_stop_is_an_upstream_error() {
    let mut s = MessagesToChatStream::new("m", true);
    let mut events = text_stream();
    events.pop();
    let out = run(&mut s, &events);
    assert!(!out.iter().any(|c| c == "[DONE]"));
    assert!(matches!(s.finish(), Err(ConvertError::InvalidUpstream(_))));
    assert_eq!(s.usage().unwrap().completion_tokens, 6);
}

#[test]
fn event_name_alone_and_unknown_events() {
    let mut s = MessagesToChatStream::new("m", false);
    assert_eq!(s.push(Some("ping"), "{}").unwrap(), vec![]);
    assert_eq!(
        s.push(Some("future_event"), r#"{"type":"future_event"}"#)
            .unwrap(),
        vec![]
    );
    assert_eq!(s.push(None, "  ").unwrap(), vec![]);
    // No message_start: the role chunk is still sent first.
    let out = s.push(None, r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"Hi"}}"#).unwrap();
    assert_eq!(out.len(), 2);
    let second: Value = serde_json::from_str(&out[1].data).unwrap();
    assert_eq!(second["choices"][0]["delta"], json!({"content":"Hi"}));
    let first: Value = serde_json::from_str(&out[0].data).unwrap();
    assert_eq!(
        first["choices"][0]["delta"],
        json!({"role":"assistant","content":""})
    );
}

#[test]
fn protocol_violations_are_invalid_upstream() {
    let cases = [
        "not json",
        r#"{"type":"message_start"}"#,
        r#"{"type":"content_block_start","content_block":{"type":"text"}}"#,
        r#"{"type":"content_block_start","index":0}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","name":"f"}}"#,
        r#"{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"x"}}"#,
    ];
    for c in cases {
        let mut s = MessagesToChatStream::new("m", false);
        assert!(
            matches!(s.push(None, c), Err(ConvertError::InvalidUpstream(_))),
            "{c}"
        );
    }
    let mut s = MessagesToChatStream::new("m", false);
    s.push(
        None,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    )
    .unwrap();
    let bad = r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{"}}"#;
    assert!(s.push(None, bad).is_err());
    let no_delta = r#"{"type":"content_block_delta","index":0}"#;
    assert!(s.push(None, no_delta).is_err());
}
