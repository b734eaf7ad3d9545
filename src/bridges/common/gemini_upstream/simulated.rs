//! The bridges to Gemini against the simulator's Gemini API (which validates bodies as Google
//! does: unknown names, roles, empty parts, base64, function names, schema types): what the
//! request converters write is accepted, and what the simulator answers, whole and streamed,
//! converts. Loopback only; every wait bounded.

use std::time::Duration;

use serde_json::{json, Value};

use crate::bridges::anthropic_to_gemini::{
    gemini_response_to_messages, messages_request_to_gemini, GeminiToMessagesStream,
};
use crate::bridges::openai_to_gemini::stream_tests::run_bytes;
use crate::bridges::openai_to_gemini::{
    chat_request_to_gemini, embeddings_request_to_gemini, gemini_embeddings_to_openai,
    gemini_response_to_chat, GeminiToChatStream,
};
use crate::bridges::Asked;
use crate::stream::Transform;

const KEY: &str = "AIzaSimulatedKey0123456789";

struct Sim {
    _handle: sluice_sim::SimHandle,
    base: String,
    client: reqwest::Client,
}

impl Sim {
    async fn start() -> Sim {
        let handle = sluice_sim::start(sluice_sim::SimConfig::default())
            .await
            .unwrap();
        let base = handle.base_url(sluice_sim::Provider::Gemini);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Sim {
            _handle: handle,
            base,
            client,
        }
    }

    /// POSTs `body` to `models/{model}:{method}`; the status and the body's bytes.
    async fn post(&self, model: &str, method: &str, body: &Value) -> (u16, Vec<u8>) {
        let url = format!("{}/v1beta/models/{model}:{method}", self.base);
        let r = self
            .client
            .post(url)
            .header("x-goog-api-key", KEY)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.bytes().await.unwrap().to_vec())
    }

    async fn generate(&self, model: &str, body: &Value) -> Value {
        let (status, bytes) = self.post(model, "generateContent", body).await;
        assert_eq!(status, 200, "{body} -> {}", String::from_utf8_lossy(&bytes));
        serde_json::from_slice(&bytes).unwrap()
    }

    async fn stream(&self, model: &str, body: &Value, t: &mut dyn Transform) -> String {
        let (status, bytes) = self
            .post(model, "streamGenerateContent?alt=sse", body)
            .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        let cuts: Vec<usize> = (0..bytes.len()).step_by(7).collect();
        let (out, end) = run_bytes(t, &bytes, &cuts);
        end.unwrap();
        out
    }
}

fn chat_with_tools() -> Value {
    json!({"model":"mine","messages":[
        {"role":"system","content":"Be brief."},
        {"role":"user","content":[{"type":"text","text":"Weather?"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,aGk="}}]},
        {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
            "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
        {"role":"tool","tool_call_id":"call_1","content":"sunny"},
        {"role":"assistant","content":"Sunny."},
        {"role":"user","content":"And tomorrow?"}],
        "tools":[{"type":"function","function":{"name":"get_weather","strict":true,
            "parameters":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
                "additionalProperties":false,"properties":{"city":{"type":"string"}},"required":["city"]}}}],
        "tool_choice":"required","temperature":0.5,"max_tokens":50,"stop":["END"],"seed":3})
}

#[tokio::test]
async fn openai_requests_are_accepted_and_answers_convert() {
    let sim = Sim::start().await;
    let req = chat_request_to_gemini(&chat_with_tools(), "gemini-2.0-flash").unwrap();
    let answer = sim.generate("gemini-2.0-flash", &req).await;
    let (out, usage) = gemini_response_to_chat(&answer, "mine").unwrap();
    let m = &out["choices"][0]["message"];
    assert_eq!(m["tool_calls"][0]["function"]["name"], "get_weather");
    let args: Value = serde_json::from_str(
        m["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(args["city"].is_string(), "{args}");
    assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    assert!(usage.prompt_tokens > 258, "the image is counted: {usage:?}");

    let plain = json!({"model":"mine","messages":[{"role":"user","content":"Hello there"}],
        "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object",
            "properties":{"n":{"type":"number"}},"required":["n"],"additionalProperties":false}}}});
    let req = chat_request_to_gemini(&plain, "gemini-2.0-flash").unwrap();
    let answer = sim.generate("gemini-2.0-flash", &req).await;
    let (out, _) = gemini_response_to_chat(&answer, "mine").unwrap();
    let text = out["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        serde_json::from_str::<Value>(text).unwrap()["n"].is_number(),
        "{text}"
    );

    let mut s = GeminiToChatStream::new("mine", true);
    let req = chat_request_to_gemini(
        &json!({"messages":[{"role":"user","content":"Tell me more SIM_FINISH_SAFETY"}]}),
        "m",
    )
    .unwrap();
    let out = sim.stream("gemini-2.0-flash", &req, &mut s).await;
    assert!(
        out.contains("\"finish_reason\":\"content_filter\""),
        "{out}"
    );
    assert!(out.ends_with("data: [DONE]\n\n"), "{out}");
    assert!(s.usage().unwrap().completion_tokens > 0);

    let blocked = chat_request_to_gemini(
        &json!({"messages":[{"role":"user","content":"SIM_BLOCK_PROMPT"}]}),
        "m",
    )
    .unwrap();
    let answer = sim.generate("gemini-2.0-flash", &blocked).await;
    let (out, _) = gemini_response_to_chat(&answer, "mine").unwrap();
    assert_eq!(out["choices"][0]["finish_reason"], "content_filter");
}

#[tokio::test]
async fn embeddings_are_accepted_and_answers_convert() {
    let sim = Sim::start().await;
    let (req, asked) = embeddings_request_to_gemini(
        &json!({"model":"mine","input":["a","b"],"dimensions":8,"encoding_format":"base64"}),
        "gemini-embedding-001",
    )
    .unwrap();
    let (status, bytes) = sim
        .post("gemini-embedding-001", "batchEmbedContents", &req)
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    let (out, _) = gemini_embeddings_to_openai(&answer, "mine", asked).unwrap();
    assert_eq!(out["data"].as_array().unwrap().len(), 2);
    // 8 f32s: 32 bytes, 44 base64 characters.
    assert_eq!(out["data"][1]["embedding"].as_str().unwrap().len(), 44);
    let (out, _) = gemini_embeddings_to_openai(&answer, "mine", Asked::default()).unwrap();
    assert_eq!(out["data"][0]["embedding"].as_array().unwrap().len(), 8);
}

#[tokio::test]
async fn anthropic_requests_are_accepted_and_answers_convert() {
    let sim = Sim::start().await;
    let req = json!({"model":"claude","max_tokens":64,"system":[{"type":"text","text":"Brief."}],
        "messages":[
            {"role":"user","content":[{"type":"text","text":"Weather?"},
                {"type":"image","source":{"type":"base64","media_type":"image/png","data":"aGk="}}]},
            {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"sunny"}]},
            {"role":"assistant","content":"Sunny."},
            {"role":"user","content":"Thanks, and tomorrow?"}],
        "tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],
        "tool_choice":{"type":"tool","name":"get_weather"},
        "thinking":{"type":"enabled","budget_tokens":4}});
    let body = messages_request_to_gemini(&req, "gemini-2.5-flash").unwrap();
    let answer = sim.generate("gemini-2.5-flash", &body).await;
    let (out, usage) = gemini_response_to_messages(&answer, "claude").unwrap();
    let content = out["content"].as_array().unwrap();
    assert_eq!(content[0]["type"], "thinking", "{out}");
    let tool = content.iter().find(|b| b["type"] == "tool_use").unwrap();
    assert_eq!(tool["name"], "get_weather");
    assert_eq!(out["stop_reason"], "tool_use");
    assert!(usage.completion_tokens > 0);

    let mut s = GeminiToMessagesStream::new("claude");
    let plain = json!({"max_tokens":20,"messages":[{"role":"user","content":"Say something"}]});
    let body = messages_request_to_gemini(&plain, "m").unwrap();
    let out = sim.stream("gemini-2.0-flash", &body, &mut s).await;
    assert!(out.starts_with("event: message_start\n"), "{out}");
    assert!(out.contains("\"stop_reason\":\"max_tokens\""), "{out}");
    assert!(out.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
}
