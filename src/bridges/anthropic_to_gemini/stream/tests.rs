//! Unit tests of `GeminiToMessagesStream` on Gemini SSE fed through the SSE parser in any
//! chunking.

use serde_json::{json, Value};

use super::*;
use crate::bridges::openai_to_gemini::stream_tests::{run_bytes, sse};

/// The (event, data) pairs of emitted SSE.
fn events(s: &str) -> Vec<(String, Value)> {
    s.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').unwrap();
            let name = name.strip_prefix("event: ").unwrap().to_owned();
            let data = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            (name, data)
        })
        .collect()
}

fn chunks() -> Vec<Value> {
    vec![
        json!({"candidates":[{"content":{"parts":[{"text":"plan","thought":true}],"role":"model"},"index":0}],
            "usageMetadata":{"promptTokenCount":1100,"cachedContentTokenCount":1000,"thoughtsTokenCount":4},"responseId":"r9"}),
        json!({"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}]}),
        json!({"candidates":[{"content":{"parts":[{"text":"lo"},
            {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}],"role":"model"},"index":0}]}),
        json!({"candidates":[{"content":{"parts":[{"text":"after"}]},"finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":1100,"cachedContentTokenCount":1000,
                "candidatesTokenCount":6,"thoughtsTokenCount":4}}),
    ]
}

#[test]
fn blocks_in_order_in_any_chunking() {
    let bytes = sse(&chunks());
    let one_byte: Vec<usize> = (0..bytes.len()).collect();
    for cuts in [vec![], one_byte, vec![1, 2, 99, 250, 251, 400]] {
        let mut s = GeminiToMessagesStream::new("mine");
        let (out, end) = run_bytes(&mut s, &bytes, &cuts);
        end.unwrap();
        let ev = events(&out);
        let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
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
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        let start = &ev[0].1["message"];
        assert_eq!(
            (start["id"].as_str(), start["model"].as_str()),
            (Some("msg_r9"), Some("mine"))
        );
        assert_eq!(start["usage"]["input_tokens"], 100);
        assert_eq!(start["usage"]["cache_read_input_tokens"], 1000);
        assert_eq!(ev[1].1["content_block"]["type"], "thinking");
        assert_eq!(
            ev[2].1["delta"],
            json!({"type":"thinking_delta","thinking":"plan"})
        );
        assert_eq!(ev[6].1["delta"], json!({"type":"text_delta","text":"lo"}));
        let tool = &ev[8].1["content_block"];
        assert_eq!(tool["type"], "tool_use");
        assert!(tool["id"].as_str().unwrap().starts_with("toolu_"));
        assert_eq!(
            ev[9].1["delta"],
            json!({"type":"input_json_delta","partial_json":"{\"city\":\"Paris\"}"})
        );
        assert_eq!(ev[12].1["index"], 3);
        assert_eq!(ev[14].1["delta"]["stop_reason"], "tool_use");
        assert_eq!(ev[14].1["usage"]["output_tokens"], 10);
        assert_eq!(s.usage().unwrap().prompt_tokens, 1100);
    }
}

#[test]
fn blocks_are_well_formed() {
    let mut s = GeminiToMessagesStream::new("m");
    let mut all = Vec::new();
    for c in chunks() {
        all.extend(s.push(&c.to_string()).unwrap());
    }
    all.extend(s.finish().unwrap());
    crate::bridges::proptests::check_anthropic_blocks(&all);
}

#[test]
fn stop_reasons_and_blocked_prompts() {
    for (g, a) in [
        ("MAX_TOKENS", "max_tokens"),
        ("SAFETY", "refusal"),
        ("STOP", "end_turn"),
    ] {
        let mut s = GeminiToMessagesStream::new("m");
        let c = json!({"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":g}]});
        let (out, end) = run_bytes(&mut s, &sse(&[c]), &[]);
        end.unwrap();
        let ev = events(&out);
        assert_eq!(ev[ev.len() - 2].1["delta"]["stop_reason"], a, "{g}");
    }
    let mut s = GeminiToMessagesStream::new("m");
    let (out, end) = run_bytes(
        &mut s,
        &sse(&[
            json!({"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":3}}),
        ]),
        &[],
    );
    end.unwrap();
    let ev = events(&out);
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[1].1["delta"]["stop_reason"], "refusal");
    assert_eq!(ev[1].1["usage"]["input_tokens"], 3);
}

#[test]
fn in_stream_error_and_cut_stream() {
    let mut s = GeminiToMessagesStream::new("m");
    let c = vec![
        chunks()[1].clone(),
        json!({"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}),
    ];
    let (out, end) = run_bytes(&mut s, &sse(&c), &[7]);
    end.unwrap();
    let ev = events(&out);
    let (name, err) = ev.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "rate_limit_error");
    assert!(s.upstream_failed());
    let mut s = GeminiToMessagesStream::new("m");
    let (_, end) = run_bytes(&mut s, &sse(&chunks()[..3]), &[]);
    assert!(matches!(end, Err(ConvertError::InvalidUpstream(_))));
    let mut s = GeminiToMessagesStream::new("m");
    assert!(s.push("nope").is_err());
    assert!(s
        .push(r#"{"candidates":[{"content":{"parts":[{"text":5}]}}]}"#)
        .is_err());
}
