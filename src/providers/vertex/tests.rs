//! The Vertex provider: its paths and bearer token, and what its token endpoint's errors mean.

use super::*;
use crate::config::{Config, ProviderKind, Secret};
use crate::providers::provider_for;
use crate::routing::{classify, SetAside, Verdict};

fn config() -> Config {
    Config::parse(
        r#"
        [[channels]]
        name = "v"
        provider = "vertex"
        base_url = "http://127.0.0.1:9/vertex/v1"
        keys = ["{}"]
        models = ["gemini-2.0-flash"]
        project = "my-project"
        location = "us-central1"
        [[tokens]]
        key = "sk-t"
        "#,
    )
    .unwrap()
}

#[test]
fn requests_go_under_the_publisher_path_with_the_access_token() {
    let c = config();
    c.validate().unwrap();
    let base = c.channels[0].api_base().unwrap();
    let (key, headers) = (Secret::new("{}"), HeaderMap::new());
    let mut t = Target {
        base_url: &base,
        key: &key,
        extra_headers: &headers,
        channel: &c.channels[0],
        access: Some("ya29.token"),
    };
    let p = provider_for(ProviderKind::Vertex);
    assert_eq!(p.wire(), WireFormat::Gemini);
    let body = || Bytes::from_static(b"{}");
    let r = p.build(
        &t,
        Endpoint::GenerateContent,
        "gemini-2.0-flash",
        &headers,
        body(),
        true,
    );
    assert_eq!(
        r.url,
        "http://127.0.0.1:9/vertex/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(r.headers["authorization"], "Bearer ya29.token");
    assert!(
        r.headers.get("x-goog-api-key").is_none(),
        "the key is never sent"
    );
    t.access = None;
    let r = p.build(&t, Endpoint::CountTokens, "m", &headers, body(), false);
    assert!(r.url.ends_with("/models/m:countTokens"));
    assert!(r.headers.get("authorization").is_none());
    let op = p.serves(Endpoint::ImageGenerations).unwrap();
    let r = p.build(&t, op, "imagen-4.0-generate-001", &headers, body(), false);
    assert!(r
        .url
        .ends_with("/publishers/google/models/imagen-4.0-generate-001:predict"));
}

#[test]
fn images_are_their_own_operation_and_the_rest_is_geminis() {
    let p = provider_for(ProviderKind::Vertex);
    let g = provider_for(ProviderKind::Gemini);
    assert_eq!(
        p.serves(Endpoint::ImageGenerations),
        Some(Endpoint::ImageGenerations)
    );
    assert_eq!(
        g.serves(Endpoint::ImageGenerations),
        Some(Endpoint::GenerateContent)
    );
    for e in [
        Endpoint::Chat,
        Endpoint::Speech,
        Endpoint::Embeddings,
        Endpoint::Transcriptions,
        Endpoint::ImageEdits,
        Endpoint::Moderations,
    ] {
        assert_eq!(p.serves(e), g.serves(e), "{e:?}");
    }
}

#[test]
fn a_vertex_channel_needs_its_project_and_location() {
    let mut c = config();
    c.channels[0].location = None;
    assert!(c.validate().unwrap_err().to_string().contains("location"));
    let mut c = config();
    c.channels[0].provider = ProviderKind::Gemini;
    assert!(c.validate().is_err(), "project on a gemini channel");
}

#[test]
fn a_refused_credential_is_a_refused_key_and_vertex_errors_are_googles() {
    let read = |code: u16, body: &str| {
        let status = StatusCode::from_u16(code).unwrap();
        let r = Redactor::new(&[Secret::new("ya29.secret-token-1")]);
        let f = Vertex.fault(status, &HeaderMap::new(), body.as_bytes(), &r);
        assert!(!format!("{f:?}").contains("ya29.secret-token-1"), "{f:?}");
        classify(&UpstreamError::Status(Box::new(f)))
    };
    let grant = r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature. ya29.secret-token-1"}"#;
    assert_eq!(read(400, grant), Verdict::KeyRejected(SetAside::Auth));
    let unavailable = r#"{"error":"temporarily_unavailable","error_description":"later"}"#;
    assert!(read(503, unavailable).retryable());
    let expired = r#"[{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}]"#;
    assert_eq!(read(401, expired), Verdict::KeyRejected(SetAside::Auth));
    let limited =
        r#"{"error":{"code":429,"message":"Resource exhausted.","status":"RESOURCE_EXHAUSTED"}}"#;
    assert!(matches!(read(429, limited), Verdict::RateLimited { .. }));
}
