//! Unit tests of `chat_request_to_messages`: one test per mapping rule.

use serde_json::{json, Value};

use super::*;

fn conv(req: Value) -> Value {
    chat_request_to_messages(&req, "claude-x").unwrap()
}

fn err(req: Value) -> String {
    match chat_request_to_messages(&req, "claude-x") {
        Err(ConvertError::InvalidRequest(m)) => m,
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

#[test]
fn minimal_request_gets_model_and_default_max_tokens() {
    let out = conv(json!({"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}));
    assert_eq!(
        out,
        json!({"model":"claude-x","messages":[{"role":"user","content":"Hi"}],"max_tokens":4096})
    );
}

#[test]
fn system_and_developer_are_hoisted_and_joined() {
    let out = conv(json!({"messages":[
        {"role":"system","content":"Be brief."},
        {"role":"user","content":"Hi"},
        {"role":"developer","content":[{"type":"text","text":"A"},{"type":"text","text":"B"}]}
    ]}));
    assert_eq!(out["system"], "Be brief.\n\nA\n\nB");
    assert_eq!(out["messages"], json!([{"role":"user","content":"Hi"}]));
    assert!(
        err(json!({"messages":[{"role":"system","content":[{"type":"image_url"}]}]}))
            .contains("system")
    );
}

#[test]
fn multipart_user_with_images() {
    let out = conv(json!({"messages":[{"role":"user","content":[
        {"type":"text","text":"What is this?"},
        {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ"}},
        {"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}
    ]}]}));
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type":"text","text":"What is this?"},
            {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}},
            {"type":"image","source":{"type":"url","url":"https://example.com/cat.png"}}
        ])
    );
}

#[test]
fn tool_calls_and_merged_tool_results() {
    let out = conv(json!({"messages":[
        {"role":"user","content":"Weather in Paris and Rome?"},
        {"role":"assistant","content":null,"tool_calls":[
            {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
            {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":""}}]},
        {"role":"tool","tool_call_id":"call_1","content":"18C"},
        {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"21C"}]},
        {"role":"user","content":"Thanks"}
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role":"user","content":"Weather in Paris and Rome?"},
            {"role":"assistant","content":[
                {"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}},
                {"type":"tool_use","id":"call_2","name":"get_weather","input":{}}]},
            {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"call_1","content":"18C"},
                {"type":"tool_result","tool_use_id":"call_2","content":[{"type":"text","text":"21C"}]},
                {"type":"text","text":"Thanks"}]}
        ])
    );
}

#[test]
fn tool_results_are_put_first_in_a_merged_user_turn() {
    let out = conv(json!({"messages":[
        {"role":"user","content":"before"},
        {"role":"tool","tool_call_id":"c","content":""}
    ]}));
    assert_eq!(
        out["messages"][0]["content"],
        json!([
        {"type":"tool_result","tool_use_id":"c"},{"type":"text","text":"before"}])
    );
}

#[test]
fn consecutive_same_role_messages_merge_and_empty_ones_vanish() {
    let out = conv(json!({"messages":[
        {"role":"user","content":"a"},{"role":"user","content":"b"},
        {"role":"assistant","content":""},
        {"role":"assistant","content":"c"},{"role":"assistant","content":[{"type":"text","text":"d"}]}
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
            {"role":"assistant","content":[{"type":"text","text":"c"},{"type":"text","text":"d"}]}
        ])
    );
}

#[test]
fn sampling_stop_user_stream_and_tokens() {
    let out = conv(json!({"messages":[{"role":"user","content":"x"}],
        "max_tokens":10,"max_completion_tokens":20,"temperature":0.5,"top_p":0.9,
        "stop":"END","user":"u-1","stream":true,"stream_options":{"include_usage":true},
        "seed":3,"presence_penalty":0.1,"response_format":{"type":"json_object"}}));
    assert_eq!(out["max_tokens"], 20);
    assert_eq!(out["temperature"], 0.5);
    assert_eq!(out["top_p"], 0.9);
    assert_eq!(out["stop_sequences"], json!(["END"]));
    assert_eq!(out["metadata"], json!({"user_id":"u-1"}));
    assert_eq!(out["stream"], true);
    for dropped in [
        "stream_options",
        "seed",
        "presence_penalty",
        "response_format",
        "stop",
        "user",
    ] {
        assert!(out.get(dropped).is_none(), "{dropped}");
    }
    let out = conv(json!({"messages":[],"stop":["a","b"],"max_tokens":7}));
    assert_eq!(out["stop_sequences"], json!(["a", "b"]));
    assert_eq!(out["max_tokens"], 7);
}

#[test]
fn tools_and_choice_are_mapped_only_with_tools() {
    let tools = json!([{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]);
    let out = conv(
        json!({"messages":[],"tools":tools,"tool_choice":"required","parallel_tool_calls":false}),
    );
    assert_eq!(
        out["tools"],
        json!([{"name":"f","input_schema":{"type":"object"}}])
    );
    assert_eq!(
        out["tool_choice"],
        json!({"type":"any","disable_parallel_tool_use":true})
    );
    let out = conv(json!({"messages":[],"tools":[],"tool_choice":"auto"}));
    assert!(out.get("tools").is_none() && out.get("tool_choice").is_none());
}

#[test]
fn malformed_requests_are_invalid_request() {
    assert!(err(json!([])).contains("object"));
    assert!(err(json!({})).contains("messages"));
    assert!(err(json!({"messages":[{"role":"user","content":"x"}],"n":2})).contains("n > 1"));
    assert!(err(json!({"messages":[],"n":"two"})).contains("n "));
    assert!(err(json!({"messages":[{"content":"x"}]})).contains("role"));
    assert!(err(json!({"messages":[{"role":"function","content":"x"}]})).contains("function"));
    assert!(err(json!({"messages":[{"role":"user","content":5}]})).contains("content"));
    assert!(err(json!({"messages":[],"max_tokens":-1})).contains("max_tokens"));
    assert!(err(json!({"messages":[],"temperature":"hot"})).contains("temperature"));
    assert!(err(json!({"messages":[],"stop":[1]})).contains("stop"));
    assert!(err(json!({"messages":[],"stream":"yes"})).contains("stream"));
    assert!(err(json!({"messages":[],"user":7})).contains("user"));
    assert!(err(json!({"messages":[{"role":"tool","content":"x"}]})).contains("tool_call_id"));
    assert!(
        err(json!({"messages":[{"role":"assistant","function_call":{"name":"f"}}]}))
            .contains("function_call")
    );
    let bad_args = json!({"messages":[{"role":"assistant","tool_calls":[
        {"id":"c","type":"function","function":{"name":"f","arguments":"{not json"}}]}]});
    assert!(err(bad_args).contains("arguments"));
    let array_args = json!({"messages":[{"role":"assistant","tool_calls":[
        {"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]});
    assert!(err(array_args).contains("object"));
    let no_id = json!({"messages":[{"role":"assistant","tool_calls":[
        {"type":"function","function":{"name":"f","arguments":"{}"}}]}]});
    assert!(err(no_id).contains("id"));
}
