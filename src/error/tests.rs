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

#[tokio::test]
async fn every_channel_rate_limited_is_a_429_and_none_available_a_503_both_with_a_wait() {
    let limited = RelayError::NoChannel {
        model: "m".into(),
        retry_after: Some(std::time::Duration::from_millis(19_200)),
    };
    let (s, h, v) = body_of(limited.into_response_for(WireFormat::OpenAi)).await;
    assert_eq!(
        (s.as_u16(), h["retry-after"].to_str().unwrap()),
        (429, "20")
    );
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    let limited = RelayError::NoChannel {
        model: "m".into(),
        retry_after: None,
    };
    let (s, h, v) = body_of(limited.into_response_for(WireFormat::Anthropic)).await;
    assert_eq!((s.as_u16(), h["retry-after"].to_str().unwrap()), (429, "1"));
    assert_eq!(v["error"]["type"], "rate_limit_error");

    let none = RelayError::Unavailable {
        model: "m".into(),
        why: "`a`: circuit open (probe in 4s)".into(),
        retry_after: std::time::Duration::from_secs(4),
    };
    let (s, h, v) = body_of(none.into_response_for(WireFormat::OpenAi)).await;
    assert_eq!((s.as_u16(), h["retry-after"].to_str().unwrap()), (503, "4"));
    assert_eq!(v["error"]["code"], "no_channel_available");
    assert_eq!(
        v["error"]["message"],
        "no channel can serve the model `m` now: `a`: circuit open (probe in 4s)"
    );
}

#[tokio::test]
async fn passed_through_upstream_errors_keep_only_documented_fields() {
    let body = r#"{"error":{"message":"m","type":"invalid_request_error","param":null,
        "code":null,"debug":{"authorization":"Bearer sk-abcdefghijklmnopqrstuvwxyz"}},"x":1}"#;
    let (s, _, v) =
        body_of(upstream(400, WireFormat::OpenAi, body).into_response_for(WireFormat::OpenAi))
            .await;
    assert_eq!(s, 400);
    assert_eq!(
        v,
        json!({"error":{"message":"m","type":"invalid_request_error","param":null,"code":null}})
    );
    let body = r#"{"type":"error","error":{"type":"invalid_request_error","message":"m",
        "debug":"x"},"request_id":"req_1","x":1}"#;
    let (_, _, v) = body_of(
        upstream(400, WireFormat::Anthropic, body).into_response_for(WireFormat::Anthropic),
    )
    .await;
    assert_eq!(
        v,
        json!({"type":"error","error":{"type":"invalid_request_error","message":"m"},
            "request_id":"req_1"})
    );
}

#[tokio::test]
async fn key_shapes_are_redacted_even_in_bodies_not_cleaned_upstream() {
    let body = r#"{"code":"Client specified an invalid argument","error":"Incorrect API key provided: xai-abcdefghijklmnopqrstuvwxyz0123."}"#;
    let (s, _, v) =
        body_of(upstream(400, WireFormat::OpenAi, body).into_response_for(WireFormat::Anthropic))
            .await;
    assert_eq!(s, 502, "a refused key");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("xai-[redacted]") && !msg.contains("abcdefghij"),
        "{msg}"
    );
}

#[test]
fn stream_errors_passed_through_keep_documented_fields_and_lose_secrets() {
    let r = Redactor::new(&[crate::config::Secret::new("sk-configured-1")]);
    let openai = r#"{"error":{"message":"bad sk-configured-1","type":"server_error","param":null,"code":null,"debug":{"authorization":"Bearer sk-configured-1"}}}"#;
    assert_eq!(
        sanitize_stream_error(WireFormat::OpenAi, openai, &r),
        r#"{"error":{"message":"bad [redacted]","type":"server_error","param":null,"code":null}}"#
    );
    let xai = r#"{"code":"Internal error","error":"oops sk-configured-1","debug":{"k":"v"}}"#;
    let v: Value =
        serde_json::from_str(&sanitize_stream_error(WireFormat::OpenAi, xai, &r)).unwrap();
    assert_eq!(
        v,
        json!({"error":{"message":"oops [redacted]","type":"server_error","param":null,"code":null}})
    );
    let anthropic = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded sk-configured-1","debug":{"x-api-key":"sk-configured-1"}}}"#;
    assert_eq!(
        sanitize_stream_error(WireFormat::Anthropic, anthropic, &r),
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded [redacted]"}}"#
    );
    let v: Value = serde_json::from_str(&sanitize_stream_error(
        WireFormat::Anthropic,
        "not json",
        &r,
    ))
    .unwrap();
    assert_eq!(v["error"]["type"], "api_error");
    assert_eq!(v["error"]["message"], "upstream error");
}
