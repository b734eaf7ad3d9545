//! The Gemini API as a plain client sees it: paths and versions, key checks, validation,
//! answer and stream shapes, thinking, function calls, safety blocks, tokens, embeddings,
//! models, every fault, and determinism.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use common::google::*;
use common::*;
use serde_json::{json, Value};
use sluice_sim::{Mix, Provider, Scenario, SimConfig};

fn url(sim: &sluice_sim::SimHandle, path: &str) -> String {
    format!("{}{path}", sim.base_url(Provider::Gemini))
}

fn gen(
    sim: &sluice_sim::SimHandle,
    version: &str,
    model: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    client()
        .post(url(
            sim,
            &format!("/{version}/models/{model}:generateContent"),
        ))
        .header("x-goog-api-key", GEMINI_KEY)
        .json(body)
}

#[tokio::test]
async fn generate_content_in_every_version() {
    let sim = sim().await;
    for version in ["v1", "v1beta", "v1alpha"] {
        let r = gen(&sim, version, MODEL, &hello(None))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(!r.headers().contains_key("x-request-id"));
        assert_eq!(r.headers()["server"], "scaffolding on HTTPServer2");
        let v: Value = r.json().await.unwrap();
        let c = &v["candidates"][0];
        assert_eq!(c["content"]["role"], "model");
        assert_eq!(c["finishReason"], "STOP");
        assert_eq!(c["index"], 0);
        assert_eq!(text_of(&v).split_whitespace().count(), 12);
        let u = &v["usageMetadata"];
        assert_eq!(u["promptTokenCount"], 1 + 3);
        assert_eq!(u["candidatesTokenCount"], 12);
        assert_eq!(u["totalTokenCount"], 16);
        assert!(u.get("thoughtsTokenCount").is_none());
        assert_eq!(v["modelVersion"], MODEL);
        assert!(v["responseId"].is_string());
    }
    // Unknown versions and methods are 404s in Google's shape.
    let v = expect(gen(&sim, "v2", MODEL, &hello(None)), 404).await;
    google_error(&v, 404, "NOT_FOUND");
    let v = expect(
        client()
            .post(url(&sim, "/v1beta/models/gemini-2.0-flash:predict"))
            .header("x-goog-api-key", GEMINI_KEY)
            .json(&hello(None)),
        404,
    )
    .await;
    google_error(&v, 404, "NOT_FOUND");
}

#[tokio::test]
async fn length_and_stop_sequences() {
    let sim = sim().await;
    let v = expect(gen(&sim, "v1beta", MODEL, &hello(Some(5))), 200).await;
    assert_eq!(v["candidates"][0]["finishReason"], "MAX_TOKENS");
    let words: Vec<String> = text_of(&v).split_whitespace().map(str::to_owned).collect();
    assert_eq!(words.len(), 5);
    let mut body = hello(Some(5));
    body["generationConfig"]["stop_sequences"] = json!([words[2]]);
    let v = expect(gen(&sim, "v1beta", MODEL, &body), 200).await;
    let first = words.iter().position(|w| *w == words[2]).unwrap();
    assert_eq!(text_of(&v).split_whitespace().count(), first);
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    let mut body = hello(None);
    body["generationConfig"] = json!({"candidateCount": 3});
    let v = expect(gen(&sim, "v1beta", MODEL, &body), 200).await;
    let c = v["candidates"].as_array().unwrap();
    assert_eq!(c.len(), 3);
    assert_ne!(c[0]["content"], c[1]["content"]);
    assert_eq!(v["usageMetadata"]["candidatesTokenCount"], 36);
}

#[tokio::test]
async fn sse_stream_matches_the_whole_answer() {
    let sim = sim().await;
    let g = Google::gemini(&sim);
    let whole = expect(g.generate(&hello(None)), 200).await;
    let r = g.stream(&hello(None)).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let (bytes, failed) = read_all(r).await;
    assert!(!failed);
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("event:") && !text.contains("[DONE]"));
    assert!(text.ends_with("}\r\n\r\n"));
    let chunks: Vec<Value> = google_sse(&bytes).iter().map(Block::json).collect();
    assert_eq!(chunks.len(), 12);
    let joined: String = chunks.iter().map(text_of).collect();
    assert_eq!(joined, text_of(&whole));
    for (i, c) in chunks.iter().enumerate() {
        let done = i + 1 == chunks.len();
        assert_eq!(
            c["candidates"][0].get("finishReason").is_some(),
            done,
            "{c}"
        );
        assert_eq!(c["usageMetadata"]["candidatesTokenCount"], i + 1);
        assert_eq!(c["responseId"], chunks[0]["responseId"]);
    }
    assert_eq!(chunks[11]["usageMetadata"], whole["usageMetadata"]);
    // ?key= works as the header does.
    let r = client()
        .post(url(
            &sim,
            &format!("/v1/models/{MODEL}:streamGenerateContent?alt=sse&key={GEMINI_KEY}"),
        ))
        .json(&hello(Some(2)))
        .send()
        .await
        .unwrap();
    assert_eq!(google_sse(&r.bytes().await.unwrap()).len(), 2);
}

#[tokio::test]
async fn stream_without_alt_is_a_json_array() {
    let sim = sim().await;
    let rb = || {
        client()
            .post(url(
                &sim,
                &format!("/v1beta/models/{MODEL}:streamGenerateContent"),
            ))
            .header("x-goog-api-key", GEMINI_KEY)
            .json(&hello(Some(4)))
    };
    let r = rb().send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    assert!(!r.headers().contains_key("content-length"));
    let v: Value = r.json().await.unwrap();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[3]["candidates"][0]["finishReason"], "MAX_TOKENS");
    // Faults treat its elements as events: cut=2 is two elements and an aborted body.
    let (bytes, failed) = read_all(with_fault(rb(), "cut=2").send().await.unwrap()).await;
    assert!(failed);
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(text.matches("\"candidates\"").count(), 2);
    // no-done leaves out the closing bracket.
    let (bytes, failed) = read_all(with_fault(rb(), "no-done").send().await.unwrap()).await;
    assert!(!failed);
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());
    assert!(String::from_utf8_lossy(&bytes).trim_end().ends_with('}'));
    // error-event ends the array with the error.
    let v = expect(with_fault(rb(), "error-event=1"), 200).await;
    google_error(&v[1], 503, "UNAVAILABLE");
}

#[tokio::test]
async fn thinking_models_count_their_thoughts() {
    let sim = sim().await;
    let v = expect(gen(&sim, "v1beta", "gemini-2.5-flash", &hello(None)), 200).await;
    let u = &v["usageMetadata"];
    assert_eq!(u["thoughtsTokenCount"], 8);
    assert_eq!(u["totalTokenCount"], 4 + 12 + 8);
    assert_eq!(
        v["candidates"][0]["content"]["parts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let mut body = hello(None);
    body["generationConfig"] = json!({"thinkingConfig": {"includeThoughts": true}});
    let v = expect(gen(&sim, "v1beta", "gemini-2.5-flash", &body), 200).await;
    let parts = v["candidates"][0]["content"]["parts"].as_array().unwrap();
    assert_eq!(parts[0]["thought"], true);
    assert_eq!(
        parts[0]["text"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count(),
        8
    );
    body["generationConfig"] = json!({"thinkingConfig": {"thinkingBudget": 0}});
    let v = expect(gen(&sim, "v1beta", "gemini-2.5-flash", &body), 200).await;
    assert!(v["usageMetadata"].get("thoughtsTokenCount").is_none());
    let v = expect(gen(&sim, "v1beta", "gemini-2.5-pro", &body), 400).await;
    google_error(&v, 400, "INVALID_ARGUMENT");
}

#[tokio::test]
async fn function_calls_when_the_user_spoke_last() {
    let sim = sim().await;
    let g = Google::gemini(&sim);
    let tools = json!([{"functionDeclarations": [{"name": "get_weather",
        "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}}]}]);
    let mut body = hello(None);
    body["tools"] = tools.clone();
    let v = expect(g.generate(&body), 200).await;
    let part = &v["candidates"][0]["content"]["parts"][0];
    assert_eq!(
        part["functionCall"],
        json!({"name": "get_weather", "args": {"city": "sim"}})
    );
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    let (blocks, _) = stream_blocks(g.stream(&body)).await;
    assert_eq!(blocks.len(), 1);
    assert_eq!(
        blocks[0].json()["candidates"][0]["content"]["parts"][0]["functionCall"]["name"],
        "get_weather"
    );
    // After the function's answer, words.
    body["contents"] = json!([
        {"role": "user", "parts": [{"text": "weather?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "sim"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": 20}}}]}]);
    let v = expect(g.generate(&body), 200).await;
    assert!(!text_of(&v).is_empty());
    // Mode NONE refuses calls.
    let mut body = hello(None);
    body["tools"] = tools;
    body["toolConfig"] = json!({"functionCallingConfig": {"mode": "NONE"}});
    assert!(!text_of(&expect(g.generate(&body), 200).await).is_empty());
}

#[tokio::test]
async fn safety_blocks_on_request() {
    let sim = sim().await;
    let g = Google::gemini(&sim);
    let say = |text: &str| json!({"contents": [{"parts": [{"text": text}]}]});
    let v = expect(g.generate(&say("please SIM_BLOCK_PROMPT")), 200).await;
    assert!(v.get("candidates").is_none());
    assert_eq!(v["promptFeedback"]["blockReason"], "SAFETY");
    assert!(v["usageMetadata"].get("candidatesTokenCount").is_none());
    let (blocks, failed) = stream_blocks(g.stream(&say("SIM_BLOCK_PROMPT"))).await;
    assert!(!failed && blocks.len() == 1);
    assert_eq!(blocks[0].json()["promptFeedback"]["blockReason"], "SAFETY");

    let v = expect(g.generate(&say("tell SIM_FINISH_SAFETY")), 200).await;
    let c = &v["candidates"][0];
    assert_eq!(c["finishReason"], "SAFETY");
    assert!(c["safetyRatings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["blocked"] == true));
    assert_eq!(text_of(&v).split_whitespace().count(), 6);
    let (blocks, _) = stream_blocks(g.stream(&say("tell SIM_FINISH_SAFETY"))).await;
    let last = blocks.last().unwrap().json();
    assert!(last["candidates"][0].get("content").is_none());
    assert_eq!(last["candidates"][0]["finishReason"], "SAFETY");
    for (word, reason) in [
        ("SIM_FINISH_RECITATION", "RECITATION"),
        ("SIM_FINISH_OTHER", "OTHER"),
    ] {
        let v = expect(g.generate(&say(word)), 200).await;
        assert_eq!(v["candidates"][0]["finishReason"], reason);
    }
}

#[tokio::test]
async fn count_tokens_embeddings_and_models() {
    let sim = sim().await;
    let g = Google::gemini(&sim);
    let body = json!({"contents": [{"parts": [{"text": "one two three"}]}]});
    let n = expect(g.post(MODEL, "countTokens").json(&body), 200).await;
    let v = expect(g.generate(&body), 200).await;
    assert_eq!(n["totalTokens"], v["usageMetadata"]["promptTokenCount"]);
    assert_eq!(n["totalTokens"], 6);
    let wrapped = json!({"generateContentRequest": {"model": format!("models/{MODEL}"), "contents": body["contents"]}});
    assert_eq!(
        expect(g.post(MODEL, "countTokens").json(&wrapped), 200).await,
        n
    );

    let e = json!({"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 32});
    let a = expect(g.post("gemini-embedding-001", "embedContent").json(&e), 200).await;
    let b = expect(g.post("gemini-embedding-001", "embedContent").json(&e), 200).await;
    let values = a["embedding"]["values"].as_array().unwrap();
    assert_eq!(values.len(), 32);
    let norm: f64 = values.iter().map(|x| x.as_f64().unwrap().powi(2)).sum();
    assert!((norm - 1.0).abs() < 1e-4);
    assert_eq!(a, b);
    let batch = json!({"requests": [
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}},
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]}}]});
    let v = expect(
        g.post("text-embedding-004", "batchEmbedContents")
            .json(&batch),
        200,
    )
    .await;
    assert_eq!(v["embeddings"].as_array().unwrap().len(), 2);
    assert_eq!(v["embeddings"][0]["values"].as_array().unwrap().len(), 768);
    // An embedding model does not generate, and a text model does not embed.
    let v = expect(
        g.post("text-embedding-004", "generateContent")
            .json(&hello(None)),
        404,
    )
    .await;
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not supported for generateContent"));
    expect(g.post(MODEL, "embedContent").json(&e), 404).await;

    let list = |q: &str| g.auth(client().get(url(&sim, &format!("/v1beta/models{q}"))));
    let page = expect(list("?pageSize=5"), 200).await;
    assert_eq!(page["models"].as_array().unwrap().len(), 5);
    let token = page["nextPageToken"].as_str().unwrap();
    let rest = expect(list(&format!("?pageSize=5&pageToken={token}")), 200).await;
    assert!(rest.get("nextPageToken").is_none());
    assert_eq!(rest["models"].as_array().unwrap().len(), 3);
    let v = expect(list("?pageToken=nope"), 400).await;
    google_error(&v, 400, "INVALID_ARGUMENT");
    let m = expect(
        g.auth(client().get(url(&sim, "/v1/models/gemini-2.5-pro"))),
        200,
    )
    .await;
    assert_eq!(m["name"], "models/gemini-2.5-pro");
    assert_eq!(m["thinking"], true);
    let v = expect(g.auth(client().get(url(&sim, "/v1/models/gpt-4o"))), 404).await;
    google_error(&v, 404, "NOT_FOUND");
}

#[tokio::test]
async fn keys_are_checked() {
    let sim = sim().await;
    let models = url(&sim, "/v1beta/models");
    let v = expect(client().get(&models), 403).await;
    google_error(&v, 403, "PERMISSION_DENIED");
    let v = expect(
        client()
            .get(&models)
            .header("x-goog-api-key", "sk-not-google"),
        400,
    )
    .await;
    google_error(&v, 400, "INVALID_ARGUMENT");
    assert_eq!(
        v["error"]["message"],
        "API key not valid. Please pass a valid API key."
    );
    assert_eq!(v["error"]["details"][0]["reason"], "API_KEY_INVALID");
    expect(client().get(format!("{models}?key=AIzaQueryKey")), 200).await;
    let v = expect(
        client()
            .post(url(&sim, &format!("/v1/models/{MODEL}:generateContent")))
            .json(&hello(None)),
        403,
    )
    .await;
    google_error(&v, 403, "PERMISSION_DENIED");
}

#[tokio::test]
async fn requests_are_checked_as_google_does() {
    let sim = sim().await;
    let g = Google::gemini(&sim);
    let bad = [
        (json!({}), "contents is not specified"),
        (json!({"contents": []}), "contents is not specified"),
        (
            json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
            "Please use a valid role: user, model.",
        ),
        (
            json!({"contents": [{"role": "user", "parts": []}]}),
            "contents.parts must not be empty",
        ),
        (
            json!({"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "not base64!"}}]}]}),
            "Base64 decoding failed",
        ),
        (
            json!({"contents": [{"parts": [{}]}]}),
            "required oneof field 'data'",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "stream": true}),
            "Unknown name \"stream\": Cannot find field.",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"max_tokens": 3}}),
            "Unknown name \"max_tokens\" at 'generation_config'",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"temperature": 5}}),
            "temperature",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"responseMimeType": "text/html"}}),
            "allowed mimetypes",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "safetySettings": [{"category": "HARM_CATEGORY_NICE", "threshold": "OFF"}]}),
            "safety_settings[0].category",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{"name": "has space"}]}]}),
            "Invalid function name",
        ),
    ];
    for (body, words) in bad {
        let v = expect(g.generate(&body), 400).await;
        google_error(&v, 400, "INVALID_ARGUMENT");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{body}: {message}");
    }
    let v = expect(g.post(MODEL, "generateContent").body("{not json"), 400).await;
    google_error(&v, 400, "INVALID_ARGUMENT");
    // Proto names are accepted as the JSON names are.
    let snake = json!({"contents": [{"role": "user", "parts": [{"text": "x"}, {"inline_data": {"mime_type": "image/png", "data": "aGk="}}]}],
        "system_instruction": {"parts": [{"text": "be brief"}]},
        "generation_config": {"max_output_tokens": 3, "stop_sequences": []},
        "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]});
    let v = expect(g.generate(&snake), 200).await;
    assert_eq!(v["usageMetadata"]["promptTokenCount"], 1 + 258 + 3 + 2);
    assert_eq!(
        v["usageMetadata"]["promptTokensDetails"][1],
        json!({"modality": "IMAGE", "tokenCount": 258})
    );
    assert_eq!(v["candidates"][0]["finishReason"], "MAX_TOKENS");
}

#[tokio::test]
async fn every_fault_in_the_gemini_apis_shapes() {
    let sim = sim().await;
    check_every_fault(&Google::gemini(&sim)).await;
    // The key from ?key= is echoed too.
    let v = expect(
        with_fault(
            client()
                .post(url(
                    &sim,
                    &format!("/v1beta/models/{MODEL}:generateContent?key=AIzaEchoMe"),
                ))
                .json(&hello(None)),
            "status=403, echo-key",
        ),
        403,
    )
    .await;
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("AIzaEchoMe"));
    assert_eq!(v["error"]["debug"]["key"], "AIzaEchoMe");
    // A 429 always carries RetryInfo (1 s by default) and the quota that ran out.
    let v = expect(
        with_fault(Google::gemini(&sim).generate(&hello(None)), "status=429"),
        429,
    )
    .await;
    let details = v["error"]["details"].as_array().unwrap();
    assert!(details.iter().any(|d| d["retryDelay"] == "1s"));
    assert!(details
        .iter()
        .any(|d| d["@type"] == "type.googleapis.com/google.rpc.QuotaFailure"));
    assert!(
        sim.stats().requests_to(
            Provider::Gemini,
            "/v1beta/models/{model}:streamGenerateContent"
        ) > 10
    );
}

async fn statuses(seed: u64) -> Vec<u16> {
    let sim = sluice_sim::start(SimConfig {
        seed,
        mix: Some(Mix::parse("status=429:25%, status=503:25%").unwrap()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    statuses_of(&Google::gemini(&sim), 30).await
}

#[tokio::test]
async fn same_seed_same_faults_same_words() {
    let a = statuses(7).await;
    assert_eq!(a, statuses(7).await);
    assert_ne!(a, statuses(8).await);
    assert!(a.contains(&429) && a.contains(&503) && a.contains(&200));
    // Words depend on the request only.
    let (s1, s2) = (
        sim().await,
        sluice_sim::start(SimConfig {
            seed: 99,
            ..SimConfig::default()
        })
        .await
        .unwrap(),
    );
    let w1 = text_of(&expect(Google::gemini(&s1).generate(&hello(None)), 200).await);
    let w2 = text_of(&expect(Google::gemini(&s2).generate(&hello(None)), 200).await);
    assert_eq!(w1, w2);
    let other = json!({"contents": [{"parts": [{"text": "goodbye"}]}]});
    assert_ne!(
        w1,
        text_of(&expect(Google::gemini(&s1).generate(&other), 200).await)
    );
    // Scenario rules match the model named in the path.
    let rules = "[[rule]]\nprovider = \"gemini\"\nmodel = \"gemini-2.5*\"\npath = \"/v1beta/models/{model}:generateContent\"\nfault = \"status=503\"";
    s1.set_scenario(Some(Scenario::parse(rules).unwrap()));
    expect(
        client()
            .post(url(&s1, "/v1beta/models/gemini-2.5-flash:generateContent"))
            .header("x-goog-api-key", GEMINI_KEY)
            .json(&hello(None)),
        503,
    )
    .await;
    expect(Google::gemini(&s1).generate(&hello(None)), 200).await;
}
