//! Unit tests of `MessagesToGenerateStream` on Anthropic streams (providers.md §2.1), fed as
//! bytes in every split.

use serde_json::{json, Value};

use super::*;
use crate::bridges::common::gemini_client::stream::MAX_ARGS;
use crate::bridges::common::gemini_client::testing::{bytewise, feed, said};

fn sse(events: &[Value]) -> Vec<u8> {
    events
        .iter()
        .flat_map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()).into_bytes())
        .collect()
}

fn run(
    events: &[Value],
    cuts: &[usize],
) -> (
    Vec<Value>,
    Result<(), ConvertError>,
    MessagesToGenerateStream,
) {
    let mut s = MessagesToGenerateStream::new("gemini-alias");
    let (chunks, end) = feed(&mut s, &sse(events), cuts);
    (chunks, end, s)
}

fn stream() -> Vec<Value> {
    vec![
        json!({"type":"message_start","message":{"id":"msg_01AbC","type":"message","role":"assistant",
            "content":[],"usage":{"input_tokens":12,"output_tokens":1,"cache_read_input_tokens":3}}}),
        json!({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"s"}}),
        json!({"type":"content_block_stop","index":0}),
        json!({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}),
        json!({"type":"ping"}),
        json!({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hello"}}),
        json!({"type":"content_block_stop","index":1}),
        json!({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}),
        json!({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}),
        json!({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}),
        json!({"type":"content_block_stop","index":2}),
        json!({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":30}}),
        json!({"type":"message_stop"}),
    ]
}

#[test]
fn thinking_text_and_a_whole_tool_call() {
    let (chunks, end, s) = run(&stream(), &[]);
    end.unwrap();
    assert_eq!(chunks.len(), 4);
    assert_eq!(
        chunks[0]["candidates"][0]["content"]["parts"],
        json!([{"text":"hmm","thought":true}])
    );
    assert_eq!(chunks[0]["responseId"], "01AbC");
    assert_eq!(
        chunks[1]["candidates"][0]["content"]["parts"],
        json!([{"text":"Hello"}])
    );
    assert_eq!(
        chunks[2]["candidates"][0]["content"]["parts"],
        json!([{"functionCall":{"id":"toolu_1","name":"get_weather","args":{"city":"Paris"}}}])
    );
    assert_eq!(
        chunks[3],
        json!({"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":15,"candidatesTokenCount":30,"totalTokenCount":45,
                "cachedContentTokenCount":3},
            "modelVersion":"gemini-alias","responseId":"01AbC"})
    );
    assert_eq!(s.usage().unwrap().completion_tokens, 30);
}

#[test]
fn every_split_gives_the_same_chunks() {
    let whole = run(&stream(), &[]).0;
    let len = sse(&stream()).len();
    assert_eq!(run(&stream(), &bytewise(len)).0, whole);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..50 {
        let cuts: Vec<usize> = (0..8)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % len as u64) as usize
            })
            .collect();
        assert_eq!(run(&stream(), &cuts).0, whole, "{cuts:?}");
    }
    let (text, thought, calls) = said(&whole);
    assert_eq!(
        (text.as_str(), thought.as_str(), calls.len()),
        ("Hello", "hmm", 1)
    );
}

#[test]
fn stop_reasons() {
    for (reason, word) in [
        ("end_turn", "STOP"),
        ("max_tokens", "MAX_TOKENS"),
        ("refusal", "SAFETY"),
    ] {
        let events = vec![
            json!({"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":1}}}),
            json!({"type":"message_delta","delta":{"stop_reason":reason},"usage":{"output_tokens":2}}),
            json!({"type":"message_stop"}),
        ];
        let (chunks, end, _) = run(&events, &[]);
        end.unwrap();
        assert_eq!(
            chunks.last().unwrap()["candidates"][0]["finishReason"],
            word,
            "{reason}"
        );
    }
}

#[test]
fn tool_input_is_bounded() {
    let piece = "x".repeat(64 * 1024);
    let mut events = vec![
        json!({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}}),
    ];
    events.extend(std::iter::repeat_n(
        json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":piece}}),
        MAX_ARGS / piece.len() + 1,
    ));
    let (_, end, _) = run(&events, &[]);
    assert!(matches!(end, Err(ConvertError::InvalidUpstream(m)) if m.contains("longer than")));
}

#[test]
fn in_stream_error_and_cut_stream() {
    let mut events = stream();
    events.truncate(8);
    events.push(json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}));
    let (chunks, end, s) = run(&events, &[]);
    end.unwrap();
    let last = chunks.last().unwrap();
    assert_eq!(last["error"]["message"], "Overloaded");
    assert_eq!(last["error"]["status"], "UNAVAILABLE");
    assert!(s.upstream_failed());
    let mut events = stream();
    events.pop();
    let (_, end, s) = run(&events, &[]);
    assert!(matches!(end, Err(ConvertError::InvalidUpstream(_))));
    assert!(!s.upstream_failed());
}

#[test]
fn protocol_violations_are_the_upstreams() {
    for bad in [
        json!({"type":"message_start"}),
        json!({"type":"content_block_start","content_block":{"type":"text"}}),
        json!({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","name":"f"}}),
        json!({"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"x"}}),
    ] {
        let (_, end, _) = run(std::slice::from_ref(&bad), &[]);
        assert!(
            matches!(end, Err(ConvertError::InvalidUpstream(_))),
            "{bad}"
        );
    }
    let events = [
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{"}}),
    ];
    assert!(run(&events, &[]).1.is_err());
}
