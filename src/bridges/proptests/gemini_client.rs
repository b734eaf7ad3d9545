//! Property tests of the bridges from a Gemini client: random `GenerateContentRequest`s and
//! upstream streams never panic, and the texts and function calls of a well-formed
//! conversation survive its request conversion and come back through an answer.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::super::common::gemini_client::contents::{Item, Role};
use super::super::common::gemini_client::request::read;
use super::super::gemini_to_anthropic::{
    generate_to_messages, messages_response_to_generate, MessagesToGenerateStream,
};
use super::super::gemini_to_openai::{
    chat_response_to_generate, generate_to_chat, ChatToGenerateStream,
};
use super::{arb_json, event_and_data, small_text};
use crate::stream::sse::SseEvent;
use crate::stream::Transform;
use crate::wire::ConvertError;

/// A part a Gemini client might send, well-formed or not.
fn part() -> impl Strategy<Value = Value> {
    let name = "[a-z_]{1,6}";
    prop_oneof![
        small_text().prop_map(|t| json!({"text": t})),
        small_text().prop_map(|t| json!({"text": t, "thought": true})),
        (name, arb_json()).prop_map(|(n, a)| json!({"functionCall": {"name": n, "args": a}})),
        (name, arb_json(), proptest::option::of("[a-z0-9_]{1,4}")).prop_map(
            |(n, r, id)| json!({"functionResponse": {"name": n, "response": r, "id": id}})
        ),
        ("(image|audio)/(png|wav)", "[A-Za-z0-9+/=]{0,8}")
            .prop_map(|(m, d)| json!({"inline_data": {"mime_type": m, "data": d}})),
        arb_json(),
    ]
}

fn request() -> impl Strategy<Value = Value> {
    let content = (
        prop_oneof![Just("user"), Just("model"), Just("function"), Just("x")],
        vec(part(), 0..4),
    )
        .prop_map(|(r, p)| json!({"role": r, "parts": p}));
    let config = prop_oneof![
        arb_json(),
        (
            0u64..3,
            -1i64..3,
            proptest::option::of(Just("application/json"))
        )
            .prop_map(
                |(n, m, mime)| json!({"candidateCount": n, "maxOutputTokens": m,
                "responseMimeType": mime, "responseSchema": {"type": "OBJECT"}})
            ),
    ];
    let tools = prop_oneof![
        arb_json(),
        vec("[a-z_]{1,6}", 0..3).prop_map(|names| {
            let d: Vec<Value> = names
                .iter()
                .map(|n| json!({"name": n, "parameters": {"type": "OBJECT", "nullable": true}}))
                .collect();
            json!([{"functionDeclarations": d}])
        }),
    ];
    (
        vec(content, 0..5),
        proptest::option::of(config),
        proptest::option::of(tools),
        proptest::option::of(arb_json()),
    )
        .prop_map(|(c, g, t, s)| {
            json!({"contents": c, "generationConfig": g, "tools": t, "systemInstruction": s,
                "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}})
        })
}

/// A turn of a well-formed conversation: the model's text and calls, each call answered.
#[derive(Clone, Debug)]
struct Exchange {
    ask: String,
    say: String,
    calls: Vec<(String, Value)>,
}

fn exchange() -> impl Strategy<Value = Exchange> {
    let args = vec(("[a-z]{1,5}", small_text()), 0..3)
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k, Value::from(v))).collect()));
    (
        "[a-zA-Z ]{1,10}",
        ".{0,10}",
        vec(("[a-z_]{1,6}", args), 0..3),
    )
        .prop_map(|(ask, say, calls)| Exchange { ask, say, calls })
}

fn conversation(ex: &[Exchange]) -> Value {
    let mut contents = Vec::new();
    for e in ex {
        contents.push(json!({"role": "user", "parts": [{"text": e.ask}]}));
        let mut parts = vec![json!({"text": e.say})];
        parts.extend(
            e.calls
                .iter()
                .map(|(n, a)| json!({"functionCall": {"name": n, "args": a}})),
        );
        contents.push(json!({"role": "model", "parts": parts}));
        if !e.calls.is_empty() {
            let answers: Vec<Value> = e
                .calls
                .iter()
                .map(|(n, _)| json!({"functionResponse": {"name": n, "response": {"ok": true}}}))
                .collect();
            contents.push(json!({"role": "user", "parts": answers}));
        }
    }
    json!({"contents": contents})
}

/// The text and calls of a Gemini answer's parts.
fn said(answer: &Value) -> (String, Vec<(String, Value)>) {
    let parts = answer["candidates"][0]["content"]["parts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut text = String::new();
    let mut calls = Vec::new();
    for p in parts {
        match p.get("functionCall") {
            Some(c) => calls.push((
                c["name"].as_str().unwrap_or("").to_owned(),
                c["args"].clone(),
            )),
            None => text.push_str(p["text"].as_str().unwrap_or("")),
        }
    }
    (text, calls)
}

fn no_panic_stream(t: &mut dyn Transform, events: &[(Option<String>, String)]) {
    let mut out = Vec::new();
    for (event, data) in events {
        let ev = SseEvent {
            event: event.clone(),
            data: data.clone(),
        };
        if t.on_event(&ev, &mut out).is_err() {
            return;
        }
    }
    let _ = t.on_end(&mut out);
}

proptest! {
    #[test]
    fn random_requests_convert_or_are_refused(body in prop_oneof![request(), arb_json()]) {
        match read(&body) {
            Ok(c) => {
                for turn in &c.turns {
                    prop_assert!(!turn.items.is_empty());
                }
                for w in c.turns.windows(2) {
                    prop_assert_ne!(w[0].role, w[1].role);
                }
                let chat = generate_to_chat(&c, "m", true).unwrap();
                prop_assert_eq!(&chat["stream_options"], &json!({"include_usage": true}));
                let msgs = generate_to_messages(&c, "m", false).unwrap();
                prop_assert!(msgs["max_tokens"].is_u64());
            }
            Err(e) => prop_assert!(matches!(e, ConvertError::InvalidRequest(_)), "{e:?}"),
        }
    }

    #[test]
    fn texts_and_calls_survive_the_request_and_come_back(ex in vec(exchange(), 1..4)) {
        let body = conversation(&ex);
        let c = read(&body).unwrap();
        let mut model_turns = c.turns.iter().filter(|t| t.role == Role::Model);
        let chat = generate_to_chat(&c, "m", false).unwrap();
        let assistants: Vec<&Value> = chat["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "assistant")
            .collect();
        let anthropic = generate_to_messages(&c, "m", false).unwrap();
        let replies: Vec<&Value> = anthropic["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "assistant")
            .collect();
        for (i, e) in ex.iter().filter(|e| !e.say.is_empty() || !e.calls.is_empty()).enumerate() {
            let turn = model_turns.next().unwrap();
            let calls: Vec<(String, Value)> = turn
                .items
                .iter()
                .filter_map(|it| match it {
                    Item::Call { name, args, .. } => Some((name.clone(), args.clone())),
                    _ => None,
                })
                .collect();
            prop_assert_eq!(&calls, &e.calls);
            // The converted assistant message, answered back by each upstream, is the turn.
            let mut m = assistants[i].clone();
            m["refusal"] = Value::Null;
            let answer = json!({"id": "chatcmpl-1", "choices": [{"index": 0, "message": m,
                "finish_reason": "stop"}]});
            let (g, _) = chat_response_to_generate(&answer, "gem").unwrap();
            prop_assert_eq!(said(&g), (e.say.clone(), e.calls.clone()));
            let answer = json!({"id": "msg_1", "content": replies[i]["content"],
                "stop_reason": "end_turn"});
            let (g, _) = messages_response_to_generate(&answer, "gem").unwrap();
            prop_assert_eq!(said(&g), (e.say.clone(), e.calls.clone()));
            if !e.calls.is_empty() {
                prop_assert_eq!(&g["candidates"][0]["finishReason"], "STOP");
            }
        }
    }

    #[test]
    fn arbitrary_upstream_streams_never_panic(events in vec(event_and_data(), 0..24)) {
        no_panic_stream(&mut ChatToGenerateStream::new("m"), &events);
        no_panic_stream(&mut MessagesToGenerateStream::new("m"), &events);
    }
}
