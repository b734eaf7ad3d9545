//! Unit tests of `ChatToMessagesStream` on recorded-style OpenAI streams (providers.md §1.2).

use serde_json::{json, Value};

use super::*;

const C: &str = r#""id":"chatcmpl-7Xq","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini""#;

fn line(rest: &str) -> String {
    format!("{{{C},{rest}}}")
}

/// Feed data lines; return (event name, parsed data) pairs.
fn run(s: &mut ChatToMessagesStream, lines: &[String]) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for l in lines {
        for o in s.push(None, l).unwrap() {
            out.push((o.event.unwrap(), serde_json::from_str(&o.data).unwrap()));
        }
    }
    out
}

fn names(evs: &[(&'static str, Value)]) -> Vec<&'static str> {
    evs.iter().map(|(n, _)| *n).collect()
}

fn text_lines() -> Vec<String> {
    vec![
        line(
            r#""choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null"#,
        ),
        line(
            r#""choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}],"usage":null"#,
        ),
        line(
            r#""choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}],"usage":null"#,
        ),
        line(r#""choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null"#),
        line(
            r#""choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":4}}"#,
        ),
        "[DONE]".to_owned(),
    ]
}

#[test]
fn text_stream_with_usage() {
    let mut s = ChatToMessagesStream::new("claude-alias");
    let evs = run(&mut s, &text_lines());
    assert_eq!(
        names(&evs),
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for (n, d) in &evs {
        assert_eq!(d["type"], *n);
    }
    assert_eq!(
        evs[0].1["message"],
        json!({"id":"msg_7Xq","type":"message","role":"assistant","model":"claude-alias",
        "content":[],"stop_reason":null,"stop_sequence":null,
        "usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}})
    );
    assert_eq!(
        evs[1].1,
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})
    );
    assert_eq!(evs[2].1["delta"], json!({"type":"text_delta","text":"Hel"}));
    assert_eq!(evs[3].1["index"], 0);
    assert_eq!(evs[4].1, json!({"type":"content_block_stop","index":0}));
    assert_eq!(
        evs[5].1,
        json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},
        "usage":{"input_tokens":5,"output_tokens":3,"cache_creation_input_tokens":0,"cache_read_input_tokens":4}})
    );
    assert_eq!(
        s.usage(),
        Some(Usage {
            prompt_tokens: 9,
            completion_tokens: 3,
            cache_read_tokens: 4,
            cache_creation_tokens: 0
        })
    );
    assert_eq!(s.finish().unwrap(), vec![]);
    assert_eq!(s.push(None, "[DONE]").unwrap(), vec![]);
}

#[test]
fn tool_calls_with_fragmented_arguments_and_parallel_calls() {
    let mut s = ChatToMessagesStream::new("m");
    let evs = run(
        &mut s,
        &[
            line(
                r#""choices":[{"index":0,"delta":{"role":"assistant","content":"Checking."},"finish_reason":null}]"#,
            ),
            line(
                r#""choices":[{"index":0,"delta":{"content":null,"tool_calls":[{"index":0,"id":"call_9","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]"#,
            ),
            line(
                r#""choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]"#,
            ),
            line(
                r#""choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_9","function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]"#,
            ),
            line(
                r#""choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_10","type":"function","function":{"name":"noop","arguments":"{}"}}]},"finish_reason":null}]"#,
            ),
            line(r#""choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]"#),
            "[DONE]".to_owned(),
        ],
    );
    assert_eq!(
        names(&evs),
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(
        evs[4].1,
        json!({"type":"content_block_start","index":1,
        "content_block":{"type":"tool_use","id":"call_9","name":"get_weather","input":{}}})
    );
    assert_eq!(
        evs[5].1["delta"],
        json!({"type":"input_json_delta","partial_json":"{\"city\":"})
    );
    assert_eq!(
        evs[6].1["delta"],
        json!({"type":"input_json_delta","partial_json":"\"Paris\"}"})
    );
    assert_eq!(evs[8].1["index"], 2);
    assert_eq!(evs[8].1["content_block"]["id"], "call_10");
    assert_eq!(evs[11].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(evs[11].1["usage"], json!({"output_tokens":0}));
    assert_eq!(s.usage(), None);
}

#[test]
fn reasoning_becomes_a_thinking_block() {
    let mut s = ChatToMessagesStream::new("m");
    let evs = run(
        &mut s,
        &[
            line(
                r#""choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Let me"},"finish_reason":null}]"#,
            ),
            line(
                r#""choices":[{"index":0,"delta":{"reasoning_content":" think"},"finish_reason":null}]"#,
            ),
            line(
                r#""choices":[{"index":0,"delta":{"content":"42"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":9,"total_tokens":12}"#,
            ),
            "[DONE]".to_owned(),
        ],
    );
    assert_eq!(
        evs[1].1["content_block"],
        json!({"type":"thinking","thinking":"","signature":""})
    );
    assert_eq!(
        evs[2].1["delta"],
        json!({"type":"thinking_delta","thinking":"Let me"})
    );
    assert_eq!(evs[4].1, json!({"type":"content_block_stop","index":0}));
    assert_eq!(evs[5].1["index"], 1);
    assert_eq!(evs[6].1["delta"]["text"], "42");
    assert_eq!(evs[8].1["usage"]["output_tokens"], 9);
}

#[test]
fn in_stream_error_becomes_error_event() {
    let mut s = ChatToMessagesStream::new("m");
    let mut lines = text_lines();
    lines.truncate(2);
    lines.push(r#"{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}"#.to_owned());
    let evs = run(&mut s, &lines);
    assert_eq!(
        evs.last().unwrap(),
        &(
            "error",
            json!({"type":"error","error":{"type":"api_error","message":"The server had an error"}})
        )
    );
    assert_eq!(s.push(None, "[DONE]").unwrap(), vec![]);
    assert_eq!(s.finish().unwrap(), vec![]);
    assert!(s.upstream_failed());
}

#[test]
fn a_tool_call_that_ended_with_stop_or_nothing_is_tool_use() {
    let call = line(
        r#""choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":null}]"#,
    );
    for finish in [Some("stop"), None] {
        let mut s = ChatToMessagesStream::new("m");
        let mut lines = vec![call.clone()];
        if let Some(f) = finish {
            lines.push(line(&format!(
                r#""choices":[{{"index":0,"delta":{{}},"finish_reason":"{f}"}}]"#
            )));
        }
        lines.push("[DONE]".to_owned());
        let evs = run(&mut s, &lines);
        let (_, delta) = evs.iter().find(|(n, _)| *n == "message_delta").unwrap();
        assert_eq!(delta["delta"]["stop_reason"], "tool_use", "{finish:?}");
        assert!(!s.upstream_failed());
    }
}

#[test]
fn in_stream_errors_lose_secrets_and_undocumented_fields() {
    use crate::config::Secret;
    let r = std::sync::Arc::new(Redactor::new(&[Secret::new("sk-configured-1")]));
    let mut s = ChatToMessagesStream::new("m").with_redactor(r);
    let xai = r#"{"code":"Internal error","error":"failed for sk-configured-1","debug":{"authorization":"Bearer sk-configured-1"}}"#;
    let evs = run(&mut s, &[xai.to_owned()]);
    assert_eq!(
        evs,
        vec![(
            "error",
            json!({"type":"error","error":{"type":"api_error","message":"failed for [redacted]"}})
        )]
    );
}

#[test]
fn missing_done_closes_after_finish_reason_else_errors() {
    let mut s = ChatToMessagesStream::new("m");
    let mut lines = text_lines();
    lines.pop();
    run(&mut s, &lines);
    let names: Vec<_> = s
        .finish()
        .unwrap()
        .iter()
        .map(|o| o.event.unwrap())
        .collect();
    assert_eq!(
        names,
        ["content_block_stop", "message_delta", "message_stop"]
    );
    assert_eq!(s.finish().unwrap(), vec![]);

    let mut s = ChatToMessagesStream::new("m");
    let mut lines = text_lines();
    lines.truncate(3);
    run(&mut s, &lines);
    assert!(matches!(s.finish(), Err(ConvertError::InvalidUpstream(_))));
    assert!(matches!(
        ChatToMessagesStream::new("m").finish(),
        Err(ConvertError::InvalidUpstream(_))
    ));
}

#[test]
fn done_alone_gives_a_complete_empty_message() {
    let mut s = ChatToMessagesStream::new("m");
    let names: Vec<_> = s
        .push(None, "[DONE]")
        .unwrap()
        .iter()
        .map(|o| o.event.unwrap())
        .collect();
    assert_eq!(names, ["message_start", "message_delta", "message_stop"]);
}

#[test]
fn other_choices_are_ignored_and_malformed_input_errors() {
    let mut s = ChatToMessagesStream::new("m");
    let evs = run(
        &mut s,
        &[line(
            r#""choices":[{"index":1,"delta":{"content":"other"}}]"#,
        )],
    );
    assert_eq!(names(&evs), ["message_start"]);
    for bad in ["{not json", "[1]", "\"x\""] {
        assert!(
            matches!(
                ChatToMessagesStream::new("m").push(None, bad),
                Err(ConvertError::InvalidUpstream(_))
            ),
            "{bad}"
        );
    }
    let orphan = line(
        r#""choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]"#,
    );
    assert!(matches!(
        ChatToMessagesStream::new("m").push(None, &orphan),
        Err(ConvertError::InvalidUpstream(_))
    ));
}

#[test]
fn same_index_with_a_new_id_starts_a_new_call_and_refusal_maps() {
    let mut s = ChatToMessagesStream::new("m");
    let evs = run(
        &mut s,
        &[
            line(
                r#""choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{}"}}]}}]"#,
            ),
            line(
                r#""choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"arguments":""}}]}}]"#,
            ),
            line(
                r#""choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":"{}"}}]}}]"#,
            ),
            line(r#""choices":[{"index":0,"delta":{"refusal":"I can't"},"finish_reason":"stop"}]"#),
            "[DONE]".to_owned(),
        ],
    );
    let starts: Vec<&Value> = evs
        .iter()
        .filter(|(n, _)| *n == "content_block_start")
        .map(|(_, d)| &d["content_block"])
        .collect();
    assert_eq!(starts.len(), 3);
    assert_eq!(
        (starts[0]["id"].as_str(), starts[1]["id"].as_str()),
        (Some("a"), Some("b"))
    );
    assert_eq!(starts[2]["type"], "text");
    let last_delta = evs
        .iter()
        .rev()
        .find(|(n, _)| *n == "message_delta")
        .unwrap();
    assert_eq!(last_delta.1["delta"]["stop_reason"], "refusal");
}
