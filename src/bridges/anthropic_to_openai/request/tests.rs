//! Unit tests of `messages_request_to_chat`: one test per mapping rule.

use serde_json::{json, Value};

use super::*;

fn conv(req: Value) -> Value {
    messages_request_to_chat(&req, "gpt-x").unwrap()
}

fn err(req: Value) -> String {
    match messages_request_to_chat(&req, "gpt-x") {
        Err(ConvertError::InvalidRequest(m)) => m,
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

#[test]
fn minimal_request_and_system_forms() {
    let out = conv(
        json!({"model":"claude","max_tokens":100,"system":"Be brief.",
        "messages":[{"role":"user","content":"Hi"}]}),
    );
    assert_eq!(
        out,
        json!({"model":"gpt-x","max_tokens":100,"messages":[
        {"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]})
    );
    let out = conv(
        json!({"system":[{"type":"text","text":"A","cache_control":{"type":"ephemeral"}},
        {"type":"text","text":"B"}],"messages":[]}),
    );
    assert_eq!(
        out["messages"],
        json!([{"role":"system","content":"A\n\nB"}])
    );
}

#[test]
fn user_blocks_images_and_tool_results() {
    let out = conv(json!({"messages":[{"role":"user","content":[
        {"type":"tool_result","tool_use_id":"toolu_1","content":"18C"},
        {"type":"tool_result","tool_use_id":"toolu_2","is_error":true,
         "content":[{"type":"text","text":"a"},{"type":"text","text":"b"},
                    {"type":"image","source":{"type":"url","url":"https://x.test/i.png"}}]},
        {"type":"tool_result","tool_use_id":"toolu_3"},
        {"type":"text","text":"Look"},
        {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}
    ]}]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role":"tool","tool_call_id":"toolu_1","content":"18C"},
            {"role":"tool","tool_call_id":"toolu_2","content":"a\nb"},
            {"role":"tool","tool_call_id":"toolu_3","content":""},
            {"role":"user","content":[
                {"type":"image_url","image_url":{"url":"https://x.test/i.png"}},
                {"type":"text","text":"Look"},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}
        ])
    );
    let out = conv(json!({"messages":[{"role":"user","content":[{"type":"text","text":"only"}]}]}));
    assert_eq!(out["messages"], json!([{"role":"user","content":"only"}]));
}

#[test]
fn assistant_tool_use_becomes_tool_calls_and_thinking_is_dropped() {
    let out = conv(json!({"messages":[{"role":"assistant","content":[
        {"type":"thinking","thinking":"hmm","signature":"sig"},
        {"type":"text","text":"Let me check. "},
        {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris","n":[1,2]}}
    ]},{"role":"assistant","content":[{"type":"tool_use","id":"t2","name":"f","input":{}}]},
       {"role":"assistant","content":"plain"}]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role":"assistant","content":"Let me check. ","tool_calls":[{"id":"toolu_1","type":"function",
                "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"n\":[1,2]}"}}]},
            {"role":"assistant","content":null,"tool_calls":[{"id":"t2","type":"function",
                "function":{"name":"f","arguments":"{}"}}]},
            {"role":"assistant","content":"plain"}
        ])
    );
}

#[test]
fn params_tools_choice_user_and_stream() {
    let out = conv(
        json!({"messages":[],"max_tokens":5,"temperature":0.2,"top_p":0.5,"top_k":3,
        "stop_sequences":["END"],"metadata":{"user_id":"u-1"},"stream":true,
        "thinking":{"type":"enabled","budget_tokens":1024},
        "tools":[{"name":"f","description":"d","input_schema":{"type":"object"}}],
        "tool_choice":{"type":"any","disable_parallel_tool_use":true}}),
    );
    assert_eq!(out["temperature"], 0.2);
    assert_eq!(out["top_p"], 0.5);
    assert_eq!(out["stop"], json!(["END"]));
    assert_eq!(out["user"], "u-1");
    assert_eq!(out["stream"], true);
    assert_eq!(out["stream_options"], json!({"include_usage":true}));
    assert_eq!(
        out["tools"],
        json!([{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"}}}])
    );
    assert_eq!(out["tool_choice"], "required");
    assert_eq!(out["parallel_tool_calls"], false);
    for dropped in ["top_k", "thinking", "stop_sequences", "metadata"] {
        assert!(out.get(dropped).is_none(), "{dropped}");
    }
    let out = conv(json!({"messages":[],"stream":false}));
    assert_eq!(out["stream"], false);
    assert!(out.get("stream_options").is_none());
}

#[test]
fn malformed_requests_are_invalid_request() {
    assert!(err(json!("x")).contains("object"));
    assert!(err(json!({"messages":{}})).contains("messages"));
    assert!(err(json!({"messages":[{"role":"system","content":"x"}]})).contains("system"));
    assert!(err(json!({"messages":[{"role":"user"}]})).contains("content"));
    assert!(err(json!({"messages":[{"role":"assistant","content":7}]})).contains("content"));
    assert!(
        err(json!({"messages":[{"role":"user","content":[{"type":"document"}]}]}))
            .contains("document")
    );
    assert!(
        err(json!({"messages":[{"role":"user","content":[{"type":"tool_result"}]}]}))
            .contains("tool_use_id")
    );
    assert!(
        err(json!({"messages":[{"role":"assistant","content":[{"type":"server_tool_use"}]}]}))
            .contains("server_tool_use")
    );
    assert!(err(
        json!({"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f"}]}]})
    )
    .contains("id"));
    assert!(err(json!({"messages":[{"role":"assistant","content":[{}]}]})).contains("type"));
    assert!(err(json!({"messages":[],"system":[{"type":"image"}]})).contains("system"));
    assert!(err(json!({"messages":[],"max_tokens":1.5})).contains("max_tokens"));
    assert!(err(json!({"messages":[],"stop_sequences":"END"})).contains("stop_sequences"));
    assert!(err(json!({"messages":[],"metadata":"u"})).contains("metadata"));
    assert!(err(json!({"messages":[],"stream":1})).contains("stream"));
}
