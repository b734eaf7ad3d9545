//! Unit tests of `GeminiToChatStream` on Gemini SSE as the simulator and Google write it
//! (`data: {...}\r\n\r\n`, no terminator), fed through the SSE parser in any chunking.

use serde_json::{json, Value};

use super::*;
use crate::stream::sse::SseParser;

/// Google's SSE framing of `chunks`.
pub(crate) fn sse(chunks: &[Value]) -> Vec<u8> {
    chunks
        .iter()
        .flat_map(|c| format!("data: {c}\r\n\r\n").into_bytes())
        .collect()
}

/// Runs `bytes`, split at `cuts`, through the parser and `t`; the emitted bytes and the
/// end's result.
pub(crate) fn run_bytes(
    t: &mut dyn Transform,
    bytes: &[u8],
    cuts: &[usize],
) -> (String, Result<(), ConvertError>) {
    let mut parser = SseParser::new(1 << 20);
    let mut out = Vec::new();
    let mut events = Vec::new();
    let mut at = 0;
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    ends.sort_unstable();
    ends.push(bytes.len());
    for end in ends {
        let end = end.max(at);
        parser.push(&bytes[at..end], &mut events).unwrap();
        at = end;
        for ev in events.drain(..) {
            if let Err(e) = t.on_event(&ev, &mut out) {
                return (text(&out), Err(e));
            }
        }
    }
    parser.finish(&mut events);
    for ev in events.drain(..) {
        if let Err(e) = t.on_event(&ev, &mut out) {
            return (text(&out), Err(e));
        }
    }
    let end = t.on_end(&mut out);
    (text(&out), end)
}

fn text(out: &[Bytes]) -> String {
    out.iter().map(|b| String::from_utf8_lossy(b)).collect()
}

/// The data lines of emitted SSE, parsed ("[DONE]" kept as a string).
fn lines(s: &str) -> Vec<Value> {
    s.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap_or(Value::String(d.to_owned())))
        .collect()
}

fn text_chunks() -> Vec<Value> {
    vec![
        json!({"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}],
            "usageMetadata":{"promptTokenCount":4,"totalTokenCount":4},"modelVersion":"gemini-2.0-flash","responseId":"r1"}),
        json!({"candidates":[{"content":{"parts":[{"text":"lo é"}],"role":"model"},"index":0}],
            "usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1,"totalTokenCount":5},"responseId":"r1"}),
        json!({"candidates":[{"content":{"parts":[{"text":""}],"role":"model"},"finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2,"totalTokenCount":6},"responseId":"r1"}),
    ]
}

#[test]
fn text_stream_with_usage_in_any_chunking() {
    let bytes = sse(&text_chunks());
    let one_byte: Vec<usize> = (0..bytes.len()).collect();
    let mut seen = Vec::new();
    for cuts in [vec![], one_byte, vec![3, 17, 18, 200, 201, 333]] {
        let mut s = GeminiToChatStream::new("mine", true);
        let (out, end) = run_bytes(&mut s, &bytes, &cuts);
        end.unwrap();
        let l = lines(&out);
        assert_eq!(l.len(), 6, "{out}");
        assert_eq!(
            l[0]["choices"][0]["delta"],
            json!({"role":"assistant","content":""})
        );
        assert_eq!(l[0]["id"], "chatcmpl-r1");
        assert_eq!(l[0]["model"], "mine");
        assert_eq!(l[1]["choices"][0]["delta"], json!({"content":"Hel"}));
        assert_eq!(l[2]["choices"][0]["delta"], json!({"content":"lo é"}));
        assert_eq!(l[3]["choices"][0]["finish_reason"], "stop");
        assert_eq!(l[3]["usage"], Value::Null);
        assert_eq!(l[4]["choices"], json!([]));
        assert_eq!(l[4]["usage"]["total_tokens"], 6);
        assert_eq!(l[5], "[DONE]");
        assert_eq!(s.usage().unwrap().completion_tokens, 2);
        seen.push(l.len());
    }
    assert_eq!(seen, vec![6, 6, 6]);
}

#[test]
fn usage_is_kept_but_not_shown_unless_asked() {
    let mut s = GeminiToChatStream::new("mine", false);
    let (out, end) = run_bytes(&mut s, &sse(&text_chunks()), &[]);
    end.unwrap();
    let l = lines(&out);
    assert_eq!(l.len(), 5);
    assert!(l[..4].iter().all(|c| c.get("usage").is_none()));
    assert_eq!(s.usage().unwrap().prompt_tokens, 4);
    assert!(!s.upstream_failed());
}

#[test]
fn whole_function_calls_and_thoughts() {
    let chunks = vec![
        json!({"candidates":[{"content":{"parts":[{"text":"hmm","thought":true}]}}]}),
        json!({"candidates":[{"content":{"parts":[
            {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},
            {"functionCall":{"name":"noop","args":{},"id":"g1"}}]},"finishReason":"STOP"}],
            "usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":3,"thoughtsTokenCount":2}}),
    ];
    let mut s = GeminiToChatStream::new("m", false);
    let (out, end) = run_bytes(&mut s, &sse(&chunks), &[5, 90]);
    end.unwrap();
    let l = lines(&out);
    assert_eq!(
        l[1]["choices"][0]["delta"],
        json!({"reasoning_content":"hmm"})
    );
    let c0 = &l[2]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(c0["index"], 0);
    assert!(c0["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(
        c0["function"],
        json!({"name":"get_weather","arguments":"{\"city\":\"Paris\"}"})
    );
    let c1 = &l[3]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(
        (c1["index"].as_u64(), c1["id"].as_str()),
        (Some(1), Some("g1"))
    );
    assert_eq!(l[4]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(l[5], "[DONE]");
    assert_eq!(s.usage().unwrap().completion_tokens, 5);
}

#[test]
fn safety_finish_and_blocked_prompt() {
    let mut s = GeminiToChatStream::new("m", false);
    let chunks = vec![
        json!({"candidates":[{"content":{"parts":[{"text":"a"}]}}]}),
        json!({"candidates":[{"finishReason":"SAFETY","index":0,"safetyRatings":[]}]}),
    ];
    let (out, end) = run_bytes(&mut s, &sse(&chunks), &[]);
    end.unwrap();
    let l = lines(&out);
    assert_eq!(l[2]["choices"][0]["finish_reason"], "content_filter");
    let mut s = GeminiToChatStream::new("m", true);
    let blocked = json!({"promptFeedback":{"blockReason":"SAFETY"},
        "usageMetadata":{"promptTokenCount":3,"totalTokenCount":3}});
    let (out, end) = run_bytes(&mut s, &sse(&[blocked]), &[]);
    end.unwrap();
    let l = lines(&out);
    assert_eq!(l[1]["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(l[2]["usage"]["prompt_tokens"], 3);
    assert_eq!(l[3], "[DONE]");
}

#[test]
fn in_stream_error_is_rendered_for_openai_and_redacted() {
    let mut s = GeminiToChatStream::new("m", false);
    let chunks = vec![
        text_chunks()[0].clone(),
        json!({"error":{"code":503,"message":"overloaded, key sk-abcdefghijklmnopqrstuvwxyz0123","status":"UNAVAILABLE"}}),
        text_chunks()[1].clone(),
    ];
    let (out, end) = run_bytes(&mut s, &sse(&chunks), &[41]);
    end.unwrap();
    let l = lines(&out);
    assert_eq!(l.len(), 3, "nothing after the error: {out}");
    assert!(l[2]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("overloaded"));
    assert!(!out.contains("sk-abcdefghijklmnopqrstuvwxyz0123"), "{out}");
    assert!(s.upstream_failed());
}

#[test]
fn a_cut_stream_and_garbage_are_the_upstreams_errors() {
    let mut s = GeminiToChatStream::new("m", false);
    let (out, end) = run_bytes(&mut s, &sse(&text_chunks()[..2]), &[]);
    assert!(
        matches!(end, Err(ConvertError::InvalidUpstream(_))),
        "{out}"
    );
    assert_eq!(
        s.usage().unwrap().completion_tokens,
        1,
        "usage so far is kept"
    );
    let mut s = GeminiToChatStream::new("m", false);
    assert!(s.push("{not json").is_err());
    assert!(s.push("[1,2]").is_err());
    assert!(s
        .push(r#"{"candidates":[{"content":{"parts":[{"functionCall":{}}]}}]}"#)
        .is_err());
    let mut s = GeminiToChatStream::new("m", false);
    assert_eq!(s.push("  ").unwrap(), vec![]);
    assert!(s.finish().is_err());
}
