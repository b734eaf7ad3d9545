//! Unit tests of `messages_request_to_gemini`.

use serde_json::json;

use super::*;
use crate::bridges::common::gemini_upstream::write::UNSIGNED;

fn conv(v: Value) -> Value {
    messages_request_to_gemini(&v, "gemini-2.5-flash").unwrap()
}

fn bad(v: Value) -> String {
    match messages_request_to_gemini(&v, "m") {
        Err(ConvertError::InvalidRequest(m)) => m,
        other => panic!("want a 400 for {v}, got {other:?}"),
    }
}

#[test]
fn system_blocks_images_and_config() {
    let out = conv(json!({"model":"claude","max_tokens":300,"stream":true,
        "system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],
        "messages":[
            {"role":"user","content":[{"type":"text","text":"What is this?"},
                {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/"}},
                {"type":"image","source":{"type":"url","url":"https://x.test/a.png"}}]},
            {"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},
                {"type":"text","text":"A cat."}]},
            {"role":"user","content":"Sure?"}],
        "temperature":0.2,"top_p":0.8,"top_k":40,"stop_sequences":["END"],
        "metadata":{"user_id":"u"},"thinking":{"type":"enabled","budget_tokens":1024}}));
    assert_eq!(
        out,
        json!({"contents":[
            {"role":"user","parts":[{"text":"What is this?"},
                {"inlineData":{"mimeType":"image/jpeg","data":"/9j/"}},
                {"fileData":{"mimeType":"image/png","fileUri":"https://x.test/a.png"}}]},
            {"role":"model","parts":[{"text":"A cat."}]},
            {"role":"user","parts":[{"text":"Sure?"}]}],
        "systemInstruction":{"parts":[{"text":"Be brief."}]},
        "generationConfig":{"temperature":0.2,"topP":0.8,"topK":40,"maxOutputTokens":300,
            "stopSequences":["END"],"thinkingConfig":{"includeThoughts":true,"thinkingBudget":1024}}})
    );
    let out = conv(
        json!({"max_tokens":5,"system":"Short.","messages":[{"role":"user","content":"x"}],
        "thinking":{"type":"disabled"}}),
    );
    assert_eq!(
        out["systemInstruction"],
        json!({"parts":[{"text":"Short."}]})
    );
    assert_eq!(out["generationConfig"], json!({"maxOutputTokens":5}));
}

#[test]
fn tool_use_and_results_round_trip() {
    let out = conv(json!({"max_tokens":10,"messages":[
        {"role":"user","content":"Weather?"},
        {"role":"assistant","content":[{"type":"text","text":"Let me check."},
            {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
        {"role":"user","content":[
            {"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"{\"t\":21}"},
                {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}]},
            {"type":"text","text":"And?"}]},
        {"role":"assistant","content":[{"type":"tool_use","id":"toolu_2","name":"get_weather","input":{}}]},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_2","content":"rain","is_error":true}]}],
        "tools":[{"name":"get_weather","description":"d","input_schema":{"type":"object",
            "properties":{"city":{"type":"string"}},"additionalProperties":false}},
            {"type":"custom","name":"noop","input_schema":{"type":"object"}}],
        "tool_choice":{"type":"tool","name":"get_weather","disable_parallel_tool_use":true}}));
    let c = out["contents"].as_array().unwrap();
    assert_eq!(
        c[1]["parts"],
        json!([{"text":"Let me check."},
            {"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":UNSIGNED}])
    );
    assert_eq!(
        c[2]["parts"],
        json!([{"functionResponse":{"name":"get_weather","response":{"t":21}}},
            {"inlineData":{"mimeType":"image/png","data":"iVBO"}},{"text":"And?"}])
    );
    assert_eq!(
        c[4]["parts"],
        json!([{"functionResponse":{"name":"get_weather","response":{"error":"rain"}}}])
    );
    assert_eq!(
        out["tools"],
        json!([{"functionDeclarations":[{"name":"get_weather","description":"d",
            "parameters":{"type":"object","properties":{"city":{"type":"string"}}}},{"name":"noop"}]}])
    );
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}})
    );
    for (tc, mode) in [("auto", "AUTO"), ("any", "ANY"), ("none", "NONE")] {
        let out = conv(json!({"messages":[{"role":"user","content":"x"}],
            "tools":[{"name":"f"}],"tool_choice":{"type":tc}}));
        assert_eq!(out["toolConfig"]["functionCallingConfig"]["mode"], mode);
    }
}

#[test]
fn malformed_or_unsupported_requests_are_400s() {
    assert!(
        bad(json!({"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}))
            .contains("document")
    );
    assert!(bad(json!({"messages":[{"role":"user","content":[
        {"type":"tool_result","tool_use_id":"ghost","content":"x"}]}]}))
    .contains("ghost"));
    assert!(bad(
        json!({"messages":[],"tools":[{"type":"web_search_20250305","name":"web_search"}]})
    )
    .contains("web_search"));
    for v in [
        json!(null),
        json!({"messages":{}}),
        json!({"messages":[{"role":"system","content":"x"}]}),
        json!({"messages":[{"role":"user","content":7}]}),
        json!({"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}),
        json!({"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"ftp://x"}}]}]}),
        json!({"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":[1]}]}]}),
        json!({"messages":[],"system":5}),
        json!({"messages":[],"stop_sequences":"END"}),
        json!({"messages":[],"max_tokens":"many"}),
        json!({"messages":[],"thinking":{"type":"maybe"}}),
        json!({"messages":[],"thinking":{"type":"enabled","budget_tokens":"x"}}),
        json!({"messages":[],"tool_choice":{"type":"tool"}}),
        json!({"messages":[],"tool_choice":"auto"}),
    ] {
        bad(v);
    }
}
