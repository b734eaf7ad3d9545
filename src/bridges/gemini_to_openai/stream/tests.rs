//! Unit tests of `ChatToGenerateStream` on OpenAI streams (providers.md §1.2), fed as bytes
//! in every split.

use serde_json::{json, Value};

use super::*;
use crate::bridges::common::gemini_client::stream::MAX_ARGS;
use crate::bridges::common::gemini_client::testing::{bytewise, feed, said};

const C: &str = r#""id":"chatcmpl-7Xq","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini""#;

fn sse(lines: &[String]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|l| format!("data: {l}\n\n").into_bytes())
        .collect()
}

fn line(rest: &str) -> String {
    format!("{{{C},{rest}}}")
}

fn text_stream() -> Vec<String> {
    vec![
        line(
            r#""choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null"#,
        ),
        line(
            r#""choices":[{"index":0,"delta":{"reasoning_content":"hm"},"finish_reason":null}],"usage":null"#,
        ),
        line(
            r#""choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}],"usage":null"#,
        ),
        line(
            r#""choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}],"usage":null"#,
        ),
        line(r#""choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null"#),
        line(r#""choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}"#),
        "[DONE]".to_owned(),
    ]
}

fn run(
    lines: &[String],
    cuts: &[usize],
) -> (Vec<Value>, Result<(), ConvertError>, ChatToGenerateStream) {
    let mut s = ChatToGenerateStream::new("gemini-alias");
    let (chunks, end) = feed(&mut s, &sse(lines), cuts);
    (chunks, end, s)
}

#[test]
fn text_stream_ends_with_finish_and_usage() {
    let (chunks, end, s) = run(&text_stream(), &[]);
    end.unwrap();
    assert_eq!(chunks.len(), 4);
    assert_eq!(
        chunks[0],
        json!({"candidates":[{"content":{"role":"model","parts":[{"text":"hm","thought":true}]},"index":0}],
            "modelVersion":"gemini-alias","responseId":"7Xq"})
    );
    assert_eq!(
        chunks[1]["candidates"][0]["content"]["parts"],
        json!([{"text":"Hel"}])
    );
    assert!(chunks[1].get("usageMetadata").is_none());
    assert_eq!(
        chunks[3],
        json!({"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":3,"totalTokenCount":12},
            "modelVersion":"gemini-alias","responseId":"7Xq"})
    );
    assert_eq!(s.usage().unwrap().completion_tokens, 3);
    assert!(!s.upstream_failed());
}

#[test]
fn every_split_gives_the_same_chunks() {
    let whole = run(&text_stream(), &[]).0;
    let bytes = sse(&text_stream());
    assert_eq!(run(&text_stream(), &bytewise(bytes.len())).0, whole);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..50 {
        let cuts: Vec<usize> = (0..6)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % bytes.len() as u64) as usize
            })
            .collect();
        assert_eq!(run(&text_stream(), &cuts).0, whole, "{cuts:?}");
    }
}

fn tool_stream() -> Vec<String> {
    vec![
        line(
            r#""choices":[{"index":0,"delta":{"role":"assistant","content":"Checking."},"finish_reason":null}]"#,
        ),
        line(
            r#""choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_9","type":"function","function":{"name":"get_weather","arguments":""}}]}}]"#,
        ),
        line(
            r#""choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]"#,
        ),
        line(
            r#""choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}]"#,
        ),
        line(
            r#""choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_10","type":"function","function":{"name":"get_time","arguments":"{}"}}]}}]"#,
        ),
        line(r#""choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]"#),
        line(
            r#""choices":[],"usage":{"prompt_tokens":20,"completion_tokens":10,"total_tokens":30}"#,
        ),
        "[DONE]".to_owned(),
    ]
}

#[test]
fn tool_calls_are_gathered_and_sent_whole() {
    let lines = tool_stream();
    let (chunks, end, _) = run(&lines, &bytewise(sse(&lines).len()));
    end.unwrap();
    assert_eq!(chunks.len(), 3);
    assert_eq!(
        chunks[1]["candidates"][0]["content"]["parts"],
        json!([{"functionCall":{"id":"call_9","name":"get_weather","args":{"city":"Paris"}}}])
    );
    assert_eq!(
        chunks[2]["candidates"][0]["content"]["parts"],
        json!([{"functionCall":{"id":"call_10","name":"get_time","args":{}}}]),
        "the call open at the finish goes with the last chunk"
    );
    assert_eq!(chunks[2]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(chunks[2]["usageMetadata"]["totalTokenCount"], 30);
    let (text, _, calls) = said(&chunks);
    assert_eq!(text, "Checking.");
    assert_eq!(calls.len(), 2);
}

#[test]
fn tool_arguments_are_bounded() {
    let start = line(
        r#""choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":""}}]}}]"#,
    );
    let piece = "x".repeat(64 * 1024);
    let frag = line(&format!(
        r#""choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":0,"function":{{"arguments":"{piece}"}}}}]}}}}]"#
    ));
    let mut lines = vec![start];
    lines.extend(std::iter::repeat_n(frag, MAX_ARGS / piece.len() + 1));
    let (_, end, _) = run(&lines, &[]);
    assert!(matches!(end, Err(ConvertError::InvalidUpstream(m)) if m.contains("longer than")));
}

#[test]
fn in_stream_error_ends_the_stream_as_googles_error() {
    let mut lines = text_stream();
    lines.truncate(3);
    lines.push(r#"{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}"#.to_owned());
    lines.push("[DONE]".to_owned());
    let (chunks, end, s) = run(&lines, &[]);
    end.unwrap();
    let last = chunks.last().unwrap();
    assert_eq!(last["error"]["message"], "The server had an error");
    assert_eq!(last["error"]["code"], 500);
    assert!(last["error"]["status"].is_string());
    assert!(s.upstream_failed());
}

#[test]
fn cut_streams() {
    let mut lines = text_stream();
    lines.truncate(4);
    let (_, end, _) = run(&lines, &[]);
    assert!(matches!(end, Err(ConvertError::InvalidUpstream(_))));
    // A finish without usage or [DONE] closes at the end, with zero usage.
    let mut lines = text_stream();
    lines.truncate(5);
    let (chunks, end, _) = run(&lines, &[]);
    end.unwrap();
    assert_eq!(
        chunks.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
    assert_eq!(
        chunks.last().unwrap()["usageMetadata"]["totalTokenCount"],
        0
    );
    let (chunks, end, _) = run(&["[DONE]".to_owned()], &[]);
    end.unwrap();
    assert_eq!(chunks.len(), 1);
}

#[test]
fn usage_in_the_finish_chunk_closes_at_once_and_length_maps() {
    let lines = vec![
        line(
            r#""choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}"#,
        ),
        line(r#""choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}"#),
    ];
    let (chunks, end, _) = run(&lines, &[]);
    end.unwrap();
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[1]["candidates"][0]["finishReason"], "MAX_TOKENS");
}

#[test]
fn malformed_chunks_are_the_upstreams() {
    for bad in [
        "{not json".to_owned(),
        "[1]".to_owned(),
        line(
            r#""choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]"#,
        ),
    ] {
        let (_, end, _) = run(std::slice::from_ref(&bad), &[]);
        assert!(
            matches!(end, Err(ConvertError::InvalidUpstream(_))),
            "{bad}"
        );
    }
}
