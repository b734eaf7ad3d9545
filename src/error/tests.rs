use super::*;
use http_body_util::BodyExt;

async fn body_of(resp: Response) -> (StatusCode, HeaderMap, Value) {
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

fn upstream(status: u16, wire: WireFormat, body: &str) -> RelayError {
    RelayError::Upstream(UpstreamError::Status {
        status: StatusCode::from_u16(status).unwrap(),
        body: Bytes::from(body.to_owned()),
        wire,
        retry_after: vec![(
            HeaderName::from_static("retry-after"),
            HeaderValue::from_static("7"),
        )],
    })
}

use http::HeaderName;

#[tokio::test]
async fn own_errors_have_the_client_shape_and_status() {
    let (s, _, v) = body_of(RelayError::Unauthorized.into_response_for(WireFormat::OpenAi)).await;
    assert_eq!(s, 401);
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert!(v["error"]["message"].is_string());
    let (s, _, v) =
        body_of(RelayError::Unauthorized.into_response_for(WireFormat::Anthropic)).await;
    assert_eq!(s, 401);
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "authentication_error");
    let (s, _, _) =
        body_of(RelayError::BodyTooLarge(10).into_response_for(WireFormat::OpenAi)).await;
    assert_eq!(s, 413);
    let (s, _, v) =
        body_of(RelayError::ModelNotFound("x".into()).into_response_for(WireFormat::Anthropic))
            .await;
    assert_eq!(
        (s.as_u16(), v["error"]["type"].as_str()),
        (404, Some("not_found_error"))
    );
}

#[tokio::test]
async fn upstream_429_keeps_status_and_retry_after() {
    let body = r#"{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
    let (s, h, v) =
        body_of(upstream(429, WireFormat::OpenAi, body).into_response_for(WireFormat::OpenAi))
            .await;
    assert_eq!(s, 429);
    assert_eq!(h["retry-after"], "7");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn upstream_529_is_503_for_openai_clients_and_529_for_anthropic_ones() {
    let err = || {
        upstream(
            529,
            WireFormat::Anthropic,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )
    };
    let (s, _, _) = body_of(err().into_response_for(WireFormat::OpenAi)).await;
    assert_eq!(s, 503);
    let (s, _, v) = body_of(err().into_response_for(WireFormat::Anthropic)).await;
    assert_eq!(s, 529);
    assert_eq!(v["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn upstream_auth_failures_are_the_relays_problem() {
    let (s, _, v) = body_of(
        upstream(
            401,
            WireFormat::OpenAi,
            r#"{"error":{"message":"Incorrect API key","type":"invalid_request_error"}}"#,
        )
        .into_response_for(WireFormat::OpenAi),
    )
    .await;
    assert_eq!(s, 502);
    assert_eq!(v["error"]["code"], "upstream_auth_failed");
}

#[tokio::test]
async fn deadlines_are_504_and_unreachable_is_502() {
    let (s, _, _) =
        body_of(RelayError::from(Deadline::FirstByte).into_response_for(WireFormat::OpenAi)).await;
    assert_eq!(s, 504);
    let e = RelayError::Upstream(UpstreamError::Connect("refused".into()));
    let (s, _, v) = body_of(e.into_response_for(WireFormat::Anthropic)).await;
    assert_eq!(s, 502);
    assert_eq!(v["error"]["type"], "api_error");
}

#[test]
fn stream_error_events_use_the_client_framing() {
    let e = RelayError::from(Deadline::StreamIdle);
    let openai = e.stream_event(WireFormat::OpenAi);
    assert!(openai.starts_with(b"data: {\"error\""));
    let anthropic = e.stream_event(WireFormat::Anthropic);
    assert!(anthropic.starts_with(b"event: error\ndata: {\"type\":\"error\""));
}
