//! The Gemini provider: what it serves, the requests it builds, its answers and errors.

use super::*;
use crate::config::{Config, ProviderKind, Secret};
use crate::providers::provider_for;
use crate::routing::{classify, SetAside, Verdict};

fn config() -> Config {
    Config::parse(
        r#"
        [[channels]]
        name = "g"
        provider = "gemini"
        base_url = "http://127.0.0.1:9/gemini/v1beta"
        keys = ["AIzaKey"]
        models = ["gemini-2.5-flash"]
        [[tokens]]
        key = "sk-t"
        "#,
    )
    .unwrap()
}

fn built(op: Endpoint, stream: bool) -> UpstreamRequest {
    let c = config();
    let base = c.channels[0].api_base().unwrap();
    let key = Secret::new("AIzaKey");
    let headers = HeaderMap::new();
    let t = Target {
        base_url: &base,
        key: &key,
        extra_headers: &headers,
        channel: &c.channels[0],
        access: None,
    };
    provider_for(ProviderKind::Gemini).build(
        &t,
        op,
        "gemini-2.5-flash",
        &HeaderMap::new(),
        Bytes::from_static(b"{}"),
        stream,
    )
}

#[test]
fn serves_gemini_operations_and_no_completions() {
    let p = provider_for(ProviderKind::Gemini);
    assert_eq!(p.wire(), WireFormat::Gemini);
    assert!(!p.names_model_in_body());
    for (client, op) in [
        (Endpoint::Chat, Some(Endpoint::GenerateContent)),
        (Endpoint::Messages, Some(Endpoint::GenerateContent)),
        (Endpoint::GenerateContent, Some(Endpoint::GenerateContent)),
        (Endpoint::CountTokens, Some(Endpoint::CountTokens)),
        (Endpoint::Embeddings, Some(Endpoint::BatchEmbedContents)),
        (
            Endpoint::BatchEmbedContents,
            Some(Endpoint::BatchEmbedContents),
        ),
        (Endpoint::EmbedContent, Some(Endpoint::EmbedContent)),
        (Endpoint::Completions, None),
        (Endpoint::ImageGenerations, Some(Endpoint::GenerateContent)),
        (Endpoint::Speech, Some(Endpoint::GenerateContent)),
        (Endpoint::ImageEdits, None),
        (Endpoint::ImageVariations, None),
        (Endpoint::Transcriptions, None),
        (Endpoint::Translations, None),
        (Endpoint::Moderations, None),
    ] {
        assert_eq!(p.serves(client), op, "{client:?}");
    }
    assert!(p.stream_usage(Endpoint::GenerateContent, false).is_none());
}

#[test]
fn requests_name_the_model_in_the_path_and_send_the_key_header() {
    let r = built(Endpoint::GenerateContent, true);
    assert_eq!(
        r.url,
        "http://127.0.0.1:9/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(r.headers["x-goog-api-key"], "AIzaKey");
    assert!(r.headers.get("authorization").is_none());
    for (op, method) in [
        (Endpoint::GenerateContent, "generateContent"),
        (Endpoint::CountTokens, "countTokens"),
        (Endpoint::EmbedContent, "embedContent"),
        (Endpoint::BatchEmbedContents, "batchEmbedContents"),
    ] {
        assert!(
            built(op, false).url.ends_with(&format!(":{method}")),
            "{op:?}"
        );
    }
}

#[test]
fn answers_give_their_usage_and_json_replays_as_one_chunk() {
    let p = provider_for(ProviderKind::Gemini);
    let body = br#"{"candidates":[{"content":{"parts":[{"text":"hi"}],"role":"model"},"finishReason":"STOP"}],
        "usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4}}"#;
    let u = p.usage_of(body).unwrap().unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (3, 1));
    assert!(p
        .usage_of(br#"{"embedding":{"values":[]}}"#)
        .unwrap()
        .is_none());
    assert!(p.usage_of(b"{\"cut").is_err());
    let r = Redactor::default();
    let sse = p.replay(Endpoint::GenerateContent, body, &r).unwrap();
    let text = String::from_utf8(sse.to_vec()).unwrap();
    assert!(
        text.starts_with("data: {") && text.ends_with("\n\n"),
        "{text}"
    );
    assert_eq!(text.matches("data: ").count(), 1);
    let array = br#"[{"candidates":[]},{"candidates":[{"finishReason":"STOP"}]}]"#;
    let sse = p.replay(Endpoint::GenerateContent, array, &r).unwrap();
    assert_eq!(String::from_utf8_lossy(&sse).matches("data: ").count(), 2);
    let err = br#"{"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED"}}"#;
    match p.replay(Endpoint::GenerateContent, err, &r) {
        Err(UpstreamError::Status(f)) => assert_eq!(f.status, Some(StatusCode::TOO_MANY_REQUESTS)),
        other => panic!("{other:?}"),
    }
    assert!(p.replay(Endpoint::CountTokens, b"{}", &r).is_err());
}

#[test]
fn errors_classify_like_providers_md() {
    let read = |code: u16, body: &str| {
        let status = StatusCode::from_u16(code).unwrap();
        let f = provider_for(ProviderKind::Gemini).fault(
            status,
            &HeaderMap::new(),
            body.as_bytes(),
            &Redactor::default(),
        );
        classify(&UpstreamError::Status(Box::new(f)))
    };
    let bad_key = r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}"#;
    assert_eq!(read(400, bad_key), Verdict::KeyRejected(SetAside::Auth));
    let invalid = r#"{"error":{"code":400,"message":"bad field","status":"INVALID_ARGUMENT"}}"#;
    assert_eq!(read(400, invalid), Verdict::Client);
    let limited = r#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2s"}]}}"#;
    assert!(matches!(read(429, limited), Verdict::RateLimited { .. }));
    assert!(read(
        503,
        r#"{"error":{"code":503,"message":"x","status":"UNAVAILABLE"}}"#
    )
    .retryable());
}
