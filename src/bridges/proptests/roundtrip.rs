//! Property tests on generated well-formed traffic: fragments reassemble to the same text and
//! tool arguments through both stream converters, and chat requests survive a round trip.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::super::anthropic_to_openai::messages_request_to_chat;
use super::super::*;

#[derive(Clone, Debug)]
enum Part {
    Text(Vec<String>),
    Tool(String, Vec<String>),
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        vec(".{0,10}", 1..5).prop_map(Part::Text),
        ("[a-z_]{1,10}", vec(".{0,10}", 0..5)).prop_map(|(n, f)| Part::Tool(n, f)),
    ]
}

/// (text, [(id, name, arguments)]) as a client would reassemble them.
type Reassembled = (String, Vec<(String, String, String)>);

fn expected(parts: &[Part]) -> Reassembled {
    let mut text = String::new();
    let mut tools = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        match p {
            Part::Text(f) => text.push_str(&f.concat()),
            Part::Tool(n, f) => tools.push((format!("tool_{i}"), n.clone(), f.concat())),
        }
    }
    (text, tools)
}

fn anthropic_events(parts: &[Part]) -> Vec<(&'static str, Value)> {
    let mut ev = vec![(
        "message_start",
        json!({"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":1,"output_tokens":1}}}),
    )];
    for (i, p) in parts.iter().enumerate() {
        let (block, deltas): (Value, Vec<Value>) = match p {
            Part::Text(f) => (
                json!({"type":"text","text":""}),
                f.iter()
                    .map(|t| json!({"type":"text_delta","text":t}))
                    .collect(),
            ),
            Part::Tool(n, f) => (
                json!({"type":"tool_use","id":format!("tool_{i}"),"name":n,"input":{}}),
                f.iter()
                    .map(|t| json!({"type":"input_json_delta","partial_json":t}))
                    .collect(),
            ),
        };
        ev.push((
            "content_block_start",
            json!({"type":"content_block_start","index":i,"content_block":block}),
        ));
        ev.push(("ping", json!({"type":"ping"})));
        for d in deltas {
            ev.push((
                "content_block_delta",
                json!({"type":"content_block_delta","index":i,"delta":d}),
            ));
        }
        ev.push((
            "content_block_stop",
            json!({"type":"content_block_stop","index":i}),
        ));
    }
    ev.push(("message_delta", json!({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}})));
    ev.push(("message_stop", json!({"type":"message_stop"})));
    ev
}

fn openai_lines(parts: &[Part]) -> Vec<String> {
    let mut lines = vec![
        json!({"id":"chatcmpl-1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}),
    ];
    let mut tool_index = 0;
    for (i, p) in parts.iter().enumerate() {
        match p {
            Part::Text(f) => lines.extend(
                f.iter()
                    .map(|t| json!({"choices":[{"index":0,"delta":{"content":t}}]})),
            ),
            Part::Tool(n, f) => {
                let first = json!({"index":tool_index,"id":format!("tool_{i}"),"type":"function","function":{"name":n,"arguments":""}});
                lines.push(json!({"choices":[{"index":0,"delta":{"tool_calls":[first]}}]}));
                for t in f {
                    let frag = json!({"index":tool_index,"function":{"arguments":t}});
                    lines.push(json!({"choices":[{"index":0,"delta":{"tool_calls":[frag]}}]}));
                }
                tool_index += 1;
            }
        }
    }
    lines.push(json!({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}));
    let mut lines: Vec<String> = lines.iter().map(Value::to_string).collect();
    lines.push("[DONE]".to_owned());
    lines
}

fn tool_call(id: String, name: &str, args: &Value) -> Value {
    json!({"id": id, "type": "function", "function": {"name": name, "arguments": args.to_string()}})
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

/// One user turn and the assistant's answer: optional text, tool calls (name, args, result).
type Exchange = (String, Option<String>, Vec<(String, Value, String)>);

fn exchange() -> impl Strategy<Value = Exchange> {
    let call = ("[a-z_]{1,8}", args(), ".{1,12}");
    prop_oneof![
        (".{1,16}", ".{1,16}").prop_map(|(u, a)| (u, Some(a), Vec::new())),
        (".{1,16}", proptest::option::of(".{1,16}"), vec(call, 1..4)),
    ]
}

fn chat_messages(system: Option<String>, exchanges: &[Exchange]) -> Vec<Value> {
    let mut m: Vec<Value> = system
        .into_iter()
        .map(|s| json!({"role":"system","content":s}))
        .collect();
    for (e, (user, text, calls)) in exchanges.iter().enumerate() {
        m.push(json!({"role":"user","content":user}));
        let mut a = json!({"role":"assistant","content":text});
        if !calls.is_empty() {
            let tc: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(k, (n, args, _))| tool_call(format!("call_{e}_{k}"), n, args))
                .collect();
            a["tool_calls"] = Value::Array(tc);
        }
        m.push(a);
        for (k, (_, _, result)) in calls.iter().enumerate() {
            m.push(json!({"role":"tool","tool_call_id":format!("call_{e}_{k}"),"content":result}));
        }
    }
    m
}

proptest! {
    #[test]
    fn anthropic_stream_reassembles_as_openai(parts in vec(part(), 0..6), include_usage in any::<bool>()) {
        let mut s = MessagesToChatStream::new("m", include_usage);
        let mut out = Vec::new();
        for (e, d) in anthropic_events(&parts) {
            out.extend(s.push(Some(e), &d.to_string()).unwrap());
        }
        out.extend(s.finish().unwrap());
        prop_assert_eq!(&out.last().unwrap().data, "[DONE]");
        let (mut text, mut tools) = (String::new(), Vec::<(String, String, String)>::new());
        for o in &out[..out.len() - 1] {
            let c: Value = serde_json::from_str(&o.data).unwrap();
            prop_assert_eq!(c.get("usage").is_some(), include_usage);
            let Some(d) = c["choices"].get(0).map(|c| &c["delta"]) else { continue };
            text.push_str(d["content"].as_str().unwrap_or(""));
            for tc in d["tool_calls"].as_array().into_iter().flatten() {
                let i = tc["index"].as_u64().unwrap() as usize;
                if i == tools.len() {
                    tools.push((tc["id"].as_str().unwrap().to_owned(), tc["function"]["name"].as_str().unwrap().to_owned(), String::new()));
                }
                tools[i].2.push_str(tc["function"]["arguments"].as_str().unwrap());
            }
        }
        prop_assert_eq!((text, tools), expected(&parts));
    }

    #[test]
    fn openai_stream_reassembles_as_anthropic(parts in vec(part(), 0..6)) {
        let mut s = ChatToMessagesStream::new("m");
        let mut out = Vec::new();
        for l in openai_lines(&parts) {
            out.extend(s.push(None, &l).unwrap());
        }
        out.extend(s.finish().unwrap());
        let (mut text, mut tools) = (String::new(), Vec::<(String, String, String)>::new());
        for o in &out {
            let e: Value = serde_json::from_str(&o.data).unwrap();
            match o.event.unwrap() {
                "content_block_start" if e["content_block"]["type"] == "tool_use" => {
                    let b = &e["content_block"];
                    tools.push((b["id"].as_str().unwrap().to_owned(), b["name"].as_str().unwrap().to_owned(), String::new()));
                }
                "content_block_delta" => {
                    text.push_str(e["delta"]["text"].as_str().unwrap_or(""));
                    if let Some(j) = e["delta"]["partial_json"].as_str() {
                        tools.last_mut().unwrap().2.push_str(j);
                    }
                }
                _ => {}
            }
        }
        prop_assert_eq!(out.last().unwrap().event, Some("message_stop"));
        prop_assert_eq!((text, tools), expected(&parts));
    }

    #[test]
    fn chat_request_round_trips_through_anthropic(system in proptest::option::of(".{1,16}"), exchanges in vec(exchange(), 1..4)) {
        let messages = chat_messages(system, &exchanges);
        let req = json!({"model":"gpt","messages":messages,"max_tokens":100,"stop":["END"]});
        let anthropic = chat_request_to_messages(&req, "claude").unwrap();
        let back = messages_request_to_chat(&anthropic, "gpt").unwrap();
        prop_assert_eq!(&back["messages"], &req["messages"]);
        prop_assert_eq!(&back["stop"], &req["stop"]);
        prop_assert_eq!(&back["max_tokens"], &req["max_tokens"]);
    }
}

/// A valid event list damaged by deleting, duplicating or cutting events.
fn damage<T: Clone>(mut items: Vec<T>, ops: &[(u8, usize)]) -> Vec<T> {
    for (op, at) in ops {
        if items.is_empty() {
            break;
        }
        let at = at % items.len();
        match op % 3 {
            0 => {
                items.remove(at);
            }
            1 => items.insert(at, items[at].clone()),
            _ => items.truncate(at),
        }
    }
    items
}

proptest! {
    #[test]
    fn damaged_streams_never_panic_and_blocks_stay_well_formed(
        parts in vec(part(), 0..5),
        ops in vec((any::<u8>(), any::<usize>()), 1..4),
    ) {
        let mut a = MessagesToChatStream::new("m", true);
        for (e, d) in damage(anthropic_events(&parts), &ops) {
            if a.push(Some(e), &d.to_string()).is_err() {
                break;
            }
        }
        let _ = a.finish();
        let mut o = ChatToMessagesStream::new("m");
        let mut out = Vec::new();
        let mut ok = true;
        for l in damage(openai_lines(&parts), &ops) {
            match o.push(None, &l) {
                Ok(evs) => out.extend(evs),
                Err(_) => { ok = false; break; }
            }
        }
        if ok {
            out.extend(o.finish().unwrap_or_default());
        }
        super::check_anthropic_blocks(&out);
    }
}
