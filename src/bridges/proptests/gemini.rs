//! Property tests of the bridges to a Gemini upstream: any input converts or fails cleanly
//! (never a panic), and the text and tool calls of random chat and messages requests survive
//! the request converter and a Gemini answer built from what it wrote, whole and streamed in
//! any chunking.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::super::anthropic_to_gemini::{
    gemini_response_to_messages, messages_request_to_gemini, GeminiToMessagesStream,
};
use super::super::openai_to_gemini::stream_tests::{run_bytes, sse};
use super::super::openai_to_gemini::{
    chat_request_to_gemini, embeddings_request_to_gemini, gemini_embeddings_to_openai,
    gemini_response_to_chat, GeminiToChatStream,
};
use super::super::*;
use super::{arb_json, leaf};

const KEYS: &[&str] = &[
    "candidates",
    "content",
    "parts",
    "text",
    "thought",
    "functionCall",
    "name",
    "args",
    "id",
    "finishReason",
    "index",
    "usageMetadata",
    "promptTokenCount",
    "candidatesTokenCount",
    "promptFeedback",
    "blockReason",
    "error",
    "code",
    "status",
    "embeddings",
    "values",
    "messages",
    "role",
    "tool_calls",
    "tools",
];
const WORDS: &[&str] = &[
    "STOP",
    "MAX_TOKENS",
    "SAFETY",
    "model",
    "user",
    "assistant",
    "tool",
    "function",
    "UNAVAILABLE",
];

/// JSON built from Gemini's vocabulary, nested, with random leaves.
fn geminish() -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        proptest::sample::select(WORDS).prop_map(Value::from),
        leaf()
    ];
    word.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            3 => vec((proptest::sample::select(KEYS), inner.clone()), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
            1 => vec(inner, 0..3).prop_map(Value::from),
        ]
    })
}

fn args() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::from),
        (-5i64..500).prop_map(Value::from),
        ".{0,8}".prop_map(Value::from)
    ];
    vec(("[a-z]{1,5}", leaf), 0..3)
        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
}

/// An assistant turn: text pieces and tool calls (name, args).
type Turn = (Vec<String>, Vec<(String, Value)>);

fn turn() -> impl Strategy<Value = Turn> {
    (
        vec(".{1,10}", 0..4),
        vec(("[a-z_][a-z0-9_]{0,8}", args()), 0..3),
    )
}

/// A Gemini answer (whole) and its stream (one part per chunk), made of the parts the request
/// converter wrote for the last model turn.
fn answers(request: &Value) -> (Value, Vec<Value>) {
    let contents = request["contents"].as_array().cloned().unwrap_or_default();
    let parts: Vec<Value> = contents
        .iter()
        .rev()
        .find(|c| c["role"] == "model")
        .and_then(|c| c["parts"].as_array().cloned())
        .unwrap_or_default();
    let usage = json!({"promptTokenCount": 3, "candidatesTokenCount": 2});
    let whole = json!({"candidates":[{"content":{"role":"model","parts":parts},"finishReason":"STOP","index":0}],
        "usageMetadata": usage});
    let mut chunks: Vec<Value> = parts
        .iter()
        .map(|p| json!({"candidates":[{"content":{"role":"model","parts":[p]},"index":0}]}))
        .collect();
    chunks.push(json!({"candidates":[{"finishReason":"STOP","index":0}],"usageMetadata": usage}));
    (whole, chunks)
}

fn expected_text(t: &Turn) -> String {
    t.0.concat()
}

fn expected_calls(t: &Turn) -> Vec<(String, Value)> {
    t.1.clone()
}

/// Text and calls of an OpenAI answer's message.
fn chat_message(out: &Value) -> (String, Vec<(String, Value)>) {
    let m = &out["choices"][0]["message"];
    let text = m["content"].as_str().unwrap_or("").to_owned();
    let calls = m["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let f = &c["function"];
            let args: Value = serde_json::from_str(f["arguments"].as_str().unwrap()).unwrap();
            (f["name"].as_str().unwrap().to_owned(), args)
        })
        .collect();
    (text, calls)
}

/// Text and calls reassembled from OpenAI chunks.
fn chat_stream(out: &str) -> (String, Vec<(String, Value)>) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for d in out.split("\n\n").filter_map(|e| e.strip_prefix("data: ")) {
        let Ok(v) = serde_json::from_str::<Value>(d) else {
            continue;
        };
        let delta = &v["choices"][0]["delta"];
        text.push_str(delta["content"].as_str().unwrap_or(""));
        for c in delta["tool_calls"].as_array().into_iter().flatten() {
            let f = &c["function"];
            let args: Value = serde_json::from_str(f["arguments"].as_str().unwrap()).unwrap();
            calls.push((f["name"].as_str().unwrap().to_owned(), args));
        }
    }
    (text, calls)
}

/// Text and tool uses of Anthropic content blocks.
fn message_blocks(blocks: &[Value]) -> (String, Vec<(String, Value)>) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        match b["type"].as_str() {
            Some("text") => text.push_str(b["text"].as_str().unwrap()),
            Some("tool_use") => {
                calls.push((b["name"].as_str().unwrap().to_owned(), b["input"].clone()))
            }
            _ => {}
        }
    }
    (text, calls)
}

/// Text and tool uses reassembled from Anthropic events.
fn message_stream(out: &str) -> (String, Vec<(String, Value)>) {
    let mut text = String::new();
    let mut calls: Vec<(String, Value)> = Vec::new();
    let mut json_text = String::new();
    for e in out.split("\n\n").filter(|e| !e.is_empty()) {
        let Some(d) = e.split_once("\ndata: ").map(|(_, d)| d) else {
            continue;
        };
        let v: Value = serde_json::from_str(d).unwrap();
        match v["type"].as_str() {
            Some("content_block_start") if v["content_block"]["type"] == "tool_use" => {
                calls.push((
                    v["content_block"]["name"].as_str().unwrap().to_owned(),
                    json!({}),
                ));
                json_text.clear();
            }
            Some("content_block_delta") => match v["delta"]["type"].as_str() {
                Some("text_delta") => text.push_str(v["delta"]["text"].as_str().unwrap()),
                Some("input_json_delta") => {
                    json_text.push_str(v["delta"]["partial_json"].as_str().unwrap());
                    if let Some(last) = calls.last_mut() {
                        last.1 = serde_json::from_str(&json_text).unwrap();
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    (text, calls)
}

proptest! {
    #[test]
    fn any_input_converts_or_fails_cleanly(v in prop_oneof![arb_json(), geminish()], usage in any::<bool>()) {
        let _ = chat_request_to_gemini(&v, "m");
        let _ = messages_request_to_gemini(&v, "m");
        let _ = gemini_response_to_chat(&v, "m");
        let _ = gemini_response_to_messages(&v, "m");
        let _ = embeddings_request_to_gemini(&v, "m");
        let _ = gemini_embeddings_to_openai(&v, "m", Asked { base64_embeddings: usage, ..Asked::default() });
        let data = v.to_string();
        let mut o = GeminiToChatStream::new("m", usage);
        let mut a = GeminiToMessagesStream::new("m");
        for _ in 0..2 {
            let _ = o.push(&data);
            if let Ok(events) = a.push(&data) {
                let _ = events;
            }
        }
        let _ = (o.finish(), a.finish(), o.usage(), a.usage());
    }

    #[test]
    fn damaged_streams_never_panic_and_blocks_stay_well_formed(chunks in vec(geminish(), 0..8)) {
        let mut a = GeminiToMessagesStream::new("m");
        let mut emitted = Vec::new();
        for c in &chunks {
            match a.push(&c.to_string()) {
                Ok(out) => emitted.extend(out),
                Err(_) => break,
            }
        }
        if let Ok(out) = a.finish() {
            emitted.extend(out);
        }
        let until_error: Vec<SseOut> = emitted.into_iter().take_while(|e| e.event != Some("error")).collect();
        super::check_anthropic_blocks(&until_error);
    }

    #[test]
    fn chat_content_survives_gemini(user in ".{1,16}", t in turn(), cuts in vec(0usize..4000, 0..12)) {
        let calls: Vec<Value> = t.1.iter().enumerate().map(|(i, (n, a))| json!({"id": format!("c{i}"),
            "type":"function","function":{"name":n,"arguments":a.to_string()}})).collect();
        let content: Vec<Value> = t.0.iter().map(|p| json!({"type":"text","text":p})).collect();
        let mut assistant = json!({"role":"assistant","content":content});
        if !calls.is_empty() {
            assistant["tool_calls"] = Value::Array(calls);
        }
        let req = json!({"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":user},assistant]});
        let g = chat_request_to_gemini(&req, "m").unwrap();
        prop_assert_eq!(&g["contents"][0]["parts"][0]["text"], &json!(user));
        let (whole, chunks) = answers(&g);
        let want = (expected_text(&t), expected_calls(&t));
        let (out, _) = gemini_response_to_chat(&whole, "m").unwrap();
        prop_assert_eq!(chat_message(&out), want.clone());
        let mut s = GeminiToChatStream::new("m", true);
        let (streamed, end) = run_bytes(&mut s, &sse(&chunks), &cuts);
        prop_assert!(end.is_ok());
        prop_assert_eq!(chat_stream(&streamed), want);
        prop_assert_eq!(s.usage().map(|u| u.prompt_tokens), Some(3));
    }

    #[test]
    fn messages_content_survives_gemini(user in ".{1,16}", t in turn(), cuts in vec(0usize..4000, 0..12)) {
        let mut blocks: Vec<Value> = t.0.iter().map(|p| json!({"type":"text","text":p})).collect();
        blocks.extend(t.1.iter().enumerate().map(|(i, (n, a))| json!({"type":"tool_use","id":format!("t{i}"),"name":n,"input":a})));
        let req = json!({"model":"m","max_tokens":5,"messages":[{"role":"user","content":user},{"role":"assistant","content":blocks}]});
        let g = messages_request_to_gemini(&req, "m").unwrap();
        let (whole, chunks) = answers(&g);
        let want = (expected_text(&t), expected_calls(&t));
        let (out, _) = gemini_response_to_messages(&whole, "m").unwrap();
        prop_assert_eq!(message_blocks(out["content"].as_array().unwrap()), want.clone());
        let mut s = GeminiToMessagesStream::new("m");
        let (streamed, end) = run_bytes(&mut s, &sse(&chunks), &cuts);
        prop_assert!(end.is_ok());
        prop_assert_eq!(message_stream(&streamed), want);
    }
}
