//! Unit tests of `generate_to_messages` on requests shaped as the google-genai SDK sends them.

use serde_json::{json, Value};

use super::*;
use crate::bridges::common::gemini_client::request::read;

fn conv(body: Value, stream: bool) -> Value {
    generate_to_messages(&read(&body).unwrap(), "claude-x", stream).unwrap()
}

#[test]
fn system_settings_and_default_max_tokens() {
    let out = conv(
        json!({"contents":[{"role":"user","parts":[{"text":"Hi"}]}],
        "systemInstruction":{"parts":[{"text":"Be brief."}]},
        "generationConfig":{"temperature":0.2,"topP":0.5,"topK":3,"stopSequences":["END"],
            "seed":1,"presencePenalty":0.3}}),
        true,
    );
    assert_eq!(
        out,
        json!({"model":"claude-x","system":"Be brief.",
            "messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],
            "max_tokens":4096,"temperature":0.2,"top_p":0.5,"top_k":3,"stop_sequences":["END"],
            "stream":true})
    );
    let out = conv(
        json!({"contents":[],"generationConfig":{"maxOutputTokens":9}}),
        false,
    );
    assert_eq!(out["max_tokens"], 9);
    assert!(out.get("stream").is_none());
}

#[test]
fn multi_turn_tool_use_with_matched_ids() {
    let out = conv(
        json!({"contents":[
            {"role":"user","parts":[{"text":"Weather?"}]},
            {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]},
            {"role":"user","parts":[{"text":"also"},
                {"functionResponse":{"name":"get_weather","response":{"error":"down"}}}]}],
            "tools":[{"functionDeclarations":[{"name":"get_weather",
                "parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING","nullable":true}}}}]}],
            "toolConfig":{"functionCallingConfig":{"mode":"ANY"}}}),
        false,
    );
    assert_eq!(
        out["messages"],
        json!([
            {"role":"user","content":[{"type":"text","text":"Weather?"}]},
            {"role":"assistant","content":[{"type":"tool_use","id":"call_1_0","name":"get_weather","input":{"city":"Paris"}}]},
            {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"call_1_0","content":"{\"error\":\"down\"}","is_error":true},
                {"type":"text","text":"also"}]}])
    );
    assert_eq!(
        out["tools"],
        json!([{"name":"get_weather","input_schema":{"type":"object",
            "properties":{"city":{"type":["string","null"]}}}}])
    );
    assert_eq!(
        out["tool_choice"],
        json!({"type":"tool","name":"get_weather"})
    );
}

#[test]
fn tool_modes_and_images() {
    let tools = json!([{"functionDeclarations":[{"name":"f","description":"d"},{"name":"g"}]}]);
    let with = |mode: &str| {
        conv(
            json!({"contents":[],"tools":tools,
                "toolConfig":{"functionCallingConfig":{"mode":mode}}}),
            false,
        )
    };
    assert_eq!(with("ANY")["tool_choice"], json!({"type":"any"}));
    assert_eq!(with("NONE")["tool_choice"], json!({"type":"none"}));
    assert!(with("AUTO").get("tool_choice").is_none());
    assert_eq!(with("AUTO")["tools"][0]["description"], "d");
    let out = conv(
        json!({"contents":[{"parts":[
            {"inlineData":{"mimeType":"image/png","data":"iVBO"}},
            {"fileData":{"mimeType":"image/jpeg","fileUri":"https://x.test/a.jpg"}}]}]}),
        false,
    );
    assert_eq!(
        out["messages"][0]["content"],
        json!([{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}},
            {"type":"image","source":{"type":"url","url":"https://x.test/a.jpg"}}])
    );
}

/// What google-genai 3.6.1 sends (`fixtures/gemini-sdk/requests.json`) converts.
#[test]
fn the_sdks_own_requests_convert() {
    let recorded: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/gemini-sdk/requests.json"
    ))
    .unwrap();
    for r in recorded["requests"].as_array().unwrap() {
        if r["path"].as_str().unwrap().contains("mbedContents") {
            continue;
        }
        let out = conv(r["body"].clone(), false);
        assert!(out["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["content"].as_array().is_some_and(|c| !c.is_empty())));
    }
    let first = conv(recorded["requests"][0]["body"].clone(), false);
    assert_eq!(
        first["messages"][0]["content"][1]["source"]["media_type"],
        "image/png"
    );
    assert_eq!(
        first["tool_choice"],
        json!({"type":"tool","name":"get_weather"})
    );
    assert_eq!(
        first["tools"][0]["input_schema"]["required"],
        json!(["city"])
    );
}
