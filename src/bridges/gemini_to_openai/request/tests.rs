//! Unit tests of `generate_to_chat` on requests shaped as the google-genai SDK sends them.

use serde_json::{json, Value};

use super::*;
use crate::bridges::common::gemini_client::request::read;

fn conv(body: Value, stream: bool) -> Value {
    generate_to_chat(&read(&body).unwrap(), "gpt-4o-mini", stream).unwrap()
}

#[test]
fn system_text_and_settings() {
    let out = conv(
        json!({"contents":[{"role":"user","parts":[{"text":"Hi"}]}],
        "systemInstruction":{"parts":[{"text":"Be brief."}]},
        "safetySettings":[{"category":"HARM_CATEGORY_HATE_SPEECH","threshold":"BLOCK_NONE"}],
        "generationConfig":{"temperature":0.7,"topP":0.9,"topK":40,"maxOutputTokens":256,
            "stopSequences":["END"],"seed":3,"presencePenalty":0.5,"frequencyPenalty":0.25,
            "thinkingConfig":{"thinkingBudget":0}}}),
        false,
    );
    assert_eq!(
        out,
        json!({"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},
            {"role":"user","content":"Hi"}],
            "temperature":0.7,"top_p":0.9,"presence_penalty":0.5,"frequency_penalty":0.25,
            "max_tokens":256,"stop":["END"],"seed":3})
    );
}

#[test]
fn streams_ask_for_usage() {
    let out = conv(json!({"contents":[{"parts":[{"text":"Hi"}]}]}), true);
    assert_eq!(out["stream"], true);
    assert_eq!(out["stream_options"], json!({"include_usage":true}));
}

#[test]
fn multi_turn_tool_calls_keep_their_ids() {
    let out = conv(
        json!({"contents":[
            {"role":"user","parts":[{"text":"Weather?"}]},
            {"role":"model","parts":[{"text":"Checking."},
                {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},
                {"functionCall":{"id":"call_abc","name":"get_time","args":{}}}]},
            {"role":"user","parts":[
                {"functionResponse":{"name":"get_weather","response":{"output":"sunny"}}},
                {"functionResponse":{"name":"get_time","response":{"output":"noon"}}},
                {"text":"Thanks"}]}],
            "tools":[{"functionDeclarations":[{"name":"get_weather","description":"d",
                "parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"}},"required":["city"]}},
                {"name":"get_time"}]}],
            "toolConfig":{"functionCallingConfig":{"mode":"ANY"}}}),
        false,
    );
    assert_eq!(
        out["messages"],
        json!([
            {"role":"user","content":"Weather?"},
            {"role":"assistant","content":"Checking.","tool_calls":[
                {"id":"call_1_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"call_abc","type":"function","function":{"name":"get_time","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"call_1_0","content":"{\"output\":\"sunny\"}"},
            {"role":"tool","tool_call_id":"call_abc","content":"{\"output\":\"noon\"}"},
            {"role":"user","content":"Thanks"}])
    );
    assert_eq!(
        out["tools"],
        json!([{"type":"function","function":{"name":"get_weather","description":"d",
            "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
            {"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{}}}}])
    );
    assert_eq!(out["tool_choice"], "required");
}

#[test]
fn tool_modes() {
    let tools = json!([{"functionDeclarations":[{"name":"f"},{"name":"g"}]}]);
    let with = |cfg: Value| {
        conv(
            json!({"contents":[{"parts":[{"text":"x"}]}],"tools":tools,"toolConfig":cfg}),
            false,
        )
    };
    let one = with(json!({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["g"]}}));
    assert_eq!(
        one["tool_choice"],
        json!({"type":"function","function":{"name":"g"}})
    );
    assert_eq!(one["tools"].as_array().unwrap().len(), 1);
    assert_eq!(
        with(json!({"functionCallingConfig":{"mode":"NONE"}}))["tool_choice"],
        "none"
    );
    assert!(with(json!({"functionCallingConfig":{"mode":"AUTO"}}))
        .get("tool_choice")
        .is_none());
    let none = conv(json!({"contents":[],"tools":[]}), false);
    assert!(none.get("tools").is_none());
}

#[test]
fn images_become_image_urls() {
    let out = conv(
        json!({"contents":[{"role":"user","parts":[{"text":"What is this?"},
            {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},
            {"fileData":{"mimeType":"image/jpeg","fileUri":"https://x.test/a.jpg"}}]}]}),
        false,
    );
    assert_eq!(
        out["messages"][0]["content"],
        json!([{"type":"text","text":"What is this?"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
            {"type":"image_url","image_url":{"url":"https://x.test/a.jpg"}}])
    );
}

#[test]
fn json_output_becomes_response_format() {
    let cfg = |g: Value| conv(json!({"contents":[],"generationConfig":g}), false);
    assert_eq!(
        cfg(
            json!({"responseMimeType":"application/json","responseSchema":{"type":"OBJECT",
            "properties":{"n":{"type":"INTEGER"}}}})
        )["response_format"],
        json!({"type":"json_schema","json_schema":{"name":"response",
            "schema":{"type":"object","properties":{"n":{"type":"integer"}}}}})
    );
    assert_eq!(
        cfg(json!({"responseMimeType":"application/json"}))["response_format"],
        json!({"type":"json_object"})
    );
    assert!(cfg(json!({"responseMimeType":"text/plain"}))
        .get("response_format")
        .is_none());
}

#[test]
fn refused_requests_are_the_clients() {
    for body in [
        json!({"contents":[],"generationConfig":{"candidateCount":2}}),
        json!({"contents":[],"cachedContent":"cachedContents/1"}),
        json!({"contents":[],"tools":[{"googleSearch":{}}]}),
        json!({"contents":[{"parts":[{"inlineData":{"mimeType":"audio/mp3","data":"AA"}}]}]}),
    ] {
        assert!(
            matches!(read(&body), Err(ConvertError::InvalidRequest(_))),
            "{body}"
        );
    }
}

/// What google-genai 3.6.1 sends (`fixtures/gemini-sdk/requests.json`): each generate request
/// converts, its functions' snake_case `parameters_json_schema` and inline image included.
#[test]
fn the_sdks_own_requests_convert() {
    let recorded: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/gemini-sdk/requests.json"
    ))
    .unwrap();
    let mut generated = 0;
    for r in recorded["requests"].as_array().unwrap() {
        let path = r["path"].as_str().unwrap();
        if path.contains("mbedContents") {
            let e = crate::bridges::common::gemini_client::embed::read(&r["body"], true).unwrap();
            assert_eq!((e.texts.len(), e.dimensions), (2, Some(8)));
            continue;
        }
        let out = conv(r["body"].clone(), path.contains("stream"));
        generated += 1;
        assert_eq!(out["model"], "gpt-4o-mini", "{path}");
        if let Some(tools) = out.get("tools") {
            assert_eq!(tools[0]["function"]["name"], "get_weather");
            assert_eq!(tools[0]["function"]["parameters"]["type"], "object");
        }
    }
    assert_eq!(generated, 4);
    let first = conv(recorded["requests"][0]["body"].clone(), false);
    assert_eq!(
        first["messages"][0],
        json!({"role":"system","content":"Be brief."})
    );
    assert_eq!(
        first["messages"][1]["content"][1]["image_url"]["url"],
        "data:image/png;base64,iVBORw=="
    );
    assert_eq!(
        first["tool_choice"],
        json!({"type":"function","function":{"name":"get_weather"}})
    );
    assert_eq!(
        first["tools"][0]["function"]["parameters"]["required"],
        json!(["city"])
    );
    let schema = conv(recorded["requests"][1]["body"].clone(), false);
    assert_eq!(
        schema["response_format"]["json_schema"]["schema"]["properties"]["minutes"]["type"],
        json!(["integer", "null"])
    );
    assert!(schema["response_format"]["json_schema"]["schema"]
        .get("property_ordering")
        .is_none());
    let tools = conv(recorded["requests"][2]["body"].clone(), false);
    assert_eq!(tools["messages"][2]["tool_call_id"], "call_1_0");
}
