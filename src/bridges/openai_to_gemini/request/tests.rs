//! Unit tests of `chat_request_to_gemini`.

use serde_json::json;

use super::*;
use crate::bridges::common::gemini_upstream::write::UNSIGNED;

fn conv(v: Value) -> Value {
    chat_request_to_gemini(&v, "gemini-2.0-flash").unwrap()
}

fn bad(v: Value) -> String {
    match chat_request_to_gemini(&v, "m") {
        Err(ConvertError::InvalidRequest(m)) => m,
        other => panic!("want a 400 for {v}, got {other:?}"),
    }
}

#[test]
fn system_turns_images_and_config() {
    let out = conv(json!({"model":"mine","stream":true,"messages":[
        {"role":"system","content":"Be brief."},
        {"role":"developer","content":[{"type":"text","text":"Really."}]},
        {"role":"user","content":"Hi"},
        {"role":"user","content":[{"type":"text","text":"Look"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO","detail":"low"}},
            {"type":"image_url","image_url":{"url":"https://x.test/cat.webp"}}]},
        {"role":"assistant","content":"Hello"}],
        "temperature":0.7,"top_p":0.9,"max_tokens":256,"stop":"END","seed":7,
        "presence_penalty":0.5,"frequency_penalty":0.25,"n":1,"user":"u1","logprobs":false}));
    assert_eq!(
        out,
        json!({"contents":[
            {"role":"user","parts":[{"text":"Hi"},{"text":"Look"},
                {"inlineData":{"mimeType":"image/png","data":"iVBO"}},
                {"fileData":{"mimeType":"image/webp","fileUri":"https://x.test/cat.webp"}}]},
            {"role":"model","parts":[{"text":"Hello"}]}],
        "systemInstruction":{"parts":[{"text":"Be brief."},{"text":"Really."}]},
        "generationConfig":{"temperature":0.7,"topP":0.9,"seed":7,"presencePenalty":0.5,
            "frequencyPenalty":0.25,"maxOutputTokens":256,"stopSequences":["END"]}})
    );
    let out = conv(json!({"messages":[{"role":"user","content":"x"}],
        "max_completion_tokens":9,"max_tokens":5,"stop":["a","b"]}));
    assert_eq!(out["generationConfig"]["maxOutputTokens"], 9);
    assert_eq!(out["generationConfig"]["stopSequences"], json!(["a", "b"]));
    assert_eq!(out.get("model"), None);
    let out = conv(json!({"messages":[],"seed":4294967297_u64}));
    assert_eq!(out["generationConfig"]["seed"], 1);
    assert_eq!(out.get("stream"), None);
}

#[test]
fn tools_calls_and_results_round_trip() {
    let out = conv(json!({"messages":[
        {"role":"user","content":"Weather in Paris and Rome?"},
        {"role":"assistant","content":null,"tool_calls":[
            {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
            {"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},
        {"role":"tool","tool_call_id":"call_2","content":"noon"},
        {"role":"tool","tool_call_id":"call_1","content":"{\"temp\":21}"},
        {"role":"user","content":"Thanks"}],
        "tools":[{"type":"function","function":{"name":"get_weather","description":"d","strict":true,
            "parameters":{"$schema":"x","type":"object","additionalProperties":false,
                "properties":{"city":{"type":"string"}},"required":["city"]}}},
            {"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{}}}}],
        "tool_choice":{"type":"function","function":{"name":"get_weather"}},
        "parallel_tool_calls":false}));
    let c = out["contents"].as_array().unwrap();
    assert_eq!(c.len(), 3);
    assert_eq!(
        c[1],
        json!({"role":"model","parts":[
            {"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":UNSIGNED},
            {"functionCall":{"name":"get_time","args":{}}}]})
    );
    assert_eq!(
        c[2]["parts"],
        json!([{"functionResponse":{"name":"get_time","response":{"result":"noon"}}},
            {"functionResponse":{"name":"get_weather","response":{"temp":21}}},
            {"text":"Thanks"}])
    );
    assert_eq!(
        out["tools"],
        json!([{"functionDeclarations":[
            {"name":"get_weather","description":"d","parameters":{"type":"object",
                "properties":{"city":{"type":"string"}},"required":["city"]}},
            {"name":"get_time"}]}])
    );
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}})
    );
    for (tc, mode) in [("auto", "AUTO"), ("required", "ANY"), ("none", "NONE")] {
        let out = conv(json!({"messages":[{"role":"user","content":"x"}],
            "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":tc}));
        assert_eq!(out["toolConfig"]["functionCallingConfig"]["mode"], mode);
    }
    let out = conv(json!({"messages":[{"role":"user","content":"x"}],"tool_choice":"auto"}));
    assert_eq!(out.get("toolConfig"), None, "no tools, no config");
}

#[test]
fn structured_output() {
    let out = conv(json!({"messages":[{"role":"user","content":"x"}],
        "response_format":{"type":"json_object"}}));
    assert_eq!(
        out["generationConfig"],
        json!({"responseMimeType":"application/json"})
    );
    let out = conv(json!({"messages":[{"role":"user","content":"x"}],
        "response_format":{"type":"json_schema","json_schema":{"name":"n","strict":true,
            "schema":{"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false}}}}));
    assert_eq!(
        out["generationConfig"]["responseSchema"],
        json!({"type":"object","properties":{"a":{"type":"integer"}}})
    );
    let out = conv(json!({"messages":[{"role":"user","content":"x"}],
        "response_format":{"type":"json_schema","json_schema":{"name":"n",
            "schema":{"$defs":{"a":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/a"}}}}}}));
    assert_eq!(
        out["generationConfig"]["responseJsonSchema"]["properties"]["a"]["$ref"],
        "#/$defs/a"
    );
    let out = conv(json!({"messages":[{"role":"user","content":"x"}],
        "response_format":{"type":"text"}}));
    assert_eq!(out.get("generationConfig"), None);
}

#[test]
fn malformed_or_unsupported_requests_are_400s() {
    assert!(bad(
        json!({"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})
    )
    .contains("input_audio"));
    assert!(
        bad(json!({"messages":[{"role":"user","content":[{"type":"file","file":{}}]}]}))
            .contains("file")
    );
    assert!(bad(json!({"messages":[{"role":"user","content":"x"}],"n":2})).contains("n > 1"));
    assert!(
        bad(json!({"messages":[{"role":"tool","tool_call_id":"nope","content":"x"}]}))
            .contains("nope")
    );
    assert!(bad(json!({"messages":[{"role":"assistant","tool_calls":[
        {"id":"c","function":{"name":"f","arguments":"{oops"}}]}]}))
    .contains("not valid JSON"));
    assert!(bad(json!({"messages":[{"role":"assistant","tool_calls":[
        {"id":"c","function":{"name":"f","arguments":"[1]"}}]}]}))
    .contains("JSON object"));
    for v in [
        json!([]),
        json!({}),
        json!({"messages":[1]}),
        json!({"messages":[{"role":"robot","content":"x"}]}),
        json!({"messages":[{"role":"user","content":5}]}),
        json!({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x"}}]}]}),
        json!({"messages":[],"tools":[{"type":"web_search"}]}),
        json!({"messages":[],"tool_choice":"sometimes"}),
        json!({"messages":[],"temperature":"hot"}),
        json!({"messages":[],"seed":1.5}),
        json!({"messages":[],"stop":[1]}),
        json!({"messages":[],"max_tokens":-1}),
        json!({"messages":[],"response_format":{"type":"grammar"}}),
        json!({"messages":[{"role":"assistant","function_call":{"name":"f"}}]}),
    ] {
        bad(v);
    }
}
