//! Property tests: the stream converters never panic and keep fragments intact; requests
//! survive an OpenAI -> Anthropic -> OpenAI round trip; any body read as an upstream error by
//! any provider is rendered well-formed for either client format; the bridges from a Gemini
//! client keep texts and function calls (`gemini_client`).
//!
//! Owns: generators of plausible provider traffic. Must never depend on wall-clock time or
//! on key order inside JSON objects.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;

use super::anthropic_to_openai::messages_request_to_chat;
use super::*;
use crate::config::ProviderKind;
use crate::providers::{anthropic, openai, provider_for};
use http::{HeaderMap, StatusCode};

fn small_text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,12}", "[a-zA-Z \"{}:,\\\\é]{0,8}"]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (0u64..4).prop_map(Value::from),
        (-3i64..3).prop_map(Value::from),
        small_text().prop_map(Value::from),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::from),
            vec((small_text(), inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

const KEYS: &[&str] = &[
    "type",
    "index",
    "message",
    "content_block",
    "delta",
    "usage",
    "error",
    "id",
    "name",
    "text",
    "thinking",
    "partial_json",
    "stop_reason",
    "input",
    "choices",
    "content",
    "tool_calls",
    "function",
    "arguments",
    "finish_reason",
    "reasoning_content",
    "input_tokens",
    "output_tokens",
    "prompt_tokens",
    "completion_tokens",
];
const WORDS: &[&str] = &[
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
    "text",
    "tool_use",
    "thinking",
    "text_delta",
    "input_json_delta",
    "thinking_delta",
    "signature_delta",
    "end_turn",
    "tool_use",
    "stop",
    "tool_calls",
    "length",
    "[DONE]",
];

/// JSON built from the protocols' own vocabulary (keys and words), nested, with random leaves.
fn protocolish() -> impl Strategy<Value = Value> {
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

fn event_and_data() -> impl Strategy<Value = (Option<String>, String)> {
    let event = proptest::option::of(prop_oneof![
        proptest::sample::select(WORDS).prop_map(str::to_owned),
        ".{0,8}"
    ]);
    let data = prop_oneof![
        ".{0,40}",
        Just("[DONE]".to_owned()),
        arb_json().prop_map(|v| v.to_string()),
        protocolish().prop_map(|v| v.to_string()),
    ];
    (event, data)
}

/// Anthropic block sequences must stay well formed whatever the OpenAI input.
pub(super) fn check_anthropic_blocks(events: &[SseOut]) {
    let mut next = 0u64;
    let mut open: Option<u64> = None;
    for (i, e) in events.iter().enumerate() {
        let d: Value = serde_json::from_str(&e.data).unwrap();
        let name = e.event.unwrap();
        assert_eq!(d["type"], name);
        assert_eq!(
            i == 0,
            name == "message_start",
            "message_start must come first, once"
        );
        match name {
            "content_block_start" => {
                assert_eq!(open, None);
                assert_eq!(d["index"], next);
                open = Some(next);
                next += 1;
            }
            "content_block_delta" => assert_eq!(d["index"].as_u64(), open),
            "content_block_stop" => assert_eq!(d["index"].as_u64(), open.take()),
            "message_delta" | "message_stop" => assert_eq!(open, None),
            _ => {}
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(events in vec(event_and_data(), 0..24), usage in any::<bool>()) {
        let mut a = MessagesToChatStream::new("m", usage);
        let mut o = ChatToMessagesStream::new("m");
        let mut emitted = Vec::new();
        let mut o_ok = true;
        for (e, d) in &events {
            let _ = a.push(e.as_deref(), d);
            if o_ok {
                match o.push(e.as_deref(), d) {
                    Ok(out) => emitted.extend(out),
                    Err(_) => o_ok = false,
                }
            }
        }
        let _ = (a.finish(), a.usage());
        if o_ok {
            if let Ok(out) = o.finish() {
                emitted.extend(out);
            }
        }
        let _ = o.usage();
        let until_error: Vec<SseOut> = emitted.into_iter().take_while(|e| e.event != Some("error")).collect();
        check_anthropic_blocks(&until_error);
    }

    #[test]
    fn arbitrary_json_requests_and_responses_never_panic(v in prop_oneof![arb_json(), protocolish()]) {
        let _ = chat_request_to_messages(&v, "m");
        let _ = messages_request_to_chat(&v, "m");
        let _ = messages_response_to_chat(&v, "m");
        let _ = chat_response_to_messages(&v, "m");
        let _ = (openai::usage::of(&v), anthropic::usage::of(&v));
        let body = v.to_string();
        let r = Redactor::default();
        for kind in [ProviderKind::Openai, ProviderKind::Anthropic, ProviderKind::Xai] {
            for status in [StatusCode::BAD_REQUEST, StatusCode::INTERNAL_SERVER_ERROR] {
                let fault = provider_for(kind).fault(status, &HeaderMap::new(), body.as_bytes(), &r);
                let oa = crate::error::upstream_error_body(WireFormat::OpenAi, &fault);
                prop_assert!(oa["error"]["message"].is_string(), "{oa}");
                let an = crate::error::upstream_error_body(WireFormat::Anthropic, &fault);
                prop_assert!(an["error"]["type"].is_string() && an["type"] == "error", "{an}");
            }
        }
        for fault in [
            openai::errors::read(None, &HeaderMap::new(), body.as_bytes(), &r),
            anthropic::errors::read(None, &HeaderMap::new(), body.as_bytes(), &r),
        ] {
            let an = crate::error::upstream_error_body(WireFormat::Anthropic, &fault);
            prop_assert!(an["error"]["message"].is_string(), "{an}");
        }
    }
}

mod gemini;
mod gemini_client;
mod roundtrip;
