use super::*;
use crate::config::ProviderKind;
use crate::providers::{anthropic, openai, provider_for};
use http::HeaderName;
use http_body_util::BodyExt;

async fn body_of(resp: Response) -> (StatusCode, HeaderMap, Value) {
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

/// An error answer as the provider of `kind` reads it, with `retry-after: 7`.
fn upstream(status: u16, kind: ProviderKind, body: &str) -> RelayError {
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_static("retry-after"),
        HeaderValue::from_static("7"),
    );
    let status = StatusCode::from_u16(status).unwrap();
    let fault = provider_for(kind).fault(status, &headers, body.as_bytes(), &Redactor::default());
    RelayError::Upstream(UpstreamError::Status(Box::new(fault)))
}

/// Every answer this module gives, with the status and the error type of each client format.
#[tokio::test]
async fn every_answer_has_its_status_and_type_in_both_formats() {
    use std::time::Duration;
    type Make = Box<dyn Fn() -> RelayError>;
    let cases: Vec<(Make, u16, &str, &str)> = vec![
        (
            Box::new(|| RelayError::Unauthorized),
            401,
            "invalid_request_error",
            "authentication_error",
        ),
        (
            Box::new(|| RelayError::BadRequest("b".into())),
            400,
            "invalid_request_error",
            "invalid_request_error",
        ),
        (
            Box::new(|| RelayError::BodyTooLarge(1)),
            413,
            "invalid_request_error",
            "request_too_large",
        ),
        (
            Box::new(|| RelayError::UploadTooLarge { limit: 1, read: 2 }),
            413,
            "server_error",
            "request_too_large",
        ),
        (
            Box::new(|| RelayError::ModelNotFound("m".into())),
            404,
            "invalid_request_error",
            "not_found_error",
        ),
        (
            Box::new(|| RelayError::ModelNotAllowed("m".into())),
            403,
            "invalid_request_error",
            "permission_error",
        ),
        (
            Box::new(|| RelayError::EndpointNotSupported {
                model: "m".into(),
                endpoint: "/v1/embeddings",
            }),
            400,
            "invalid_request_error",
            "invalid_request_error",
        ),
        (
            Box::new(|| RelayError::NoChannel {
                model: "m".into(),
                retry_after: None,
            }),
            429,
            "rate_limit_error",
            "rate_limit_error",
        ),
        (
            Box::new(|| RelayError::Unavailable {
                model: "m".into(),
                why: "w".into(),
                retry_after: Duration::from_secs(1),
            }),
            503,
            "server_error",
            "overloaded_error",
        ),
        (
            Box::new(|| RelayError::Overloaded {
                reason: "r",
                retry_after: Duration::from_secs(1),
            }),
            503,
            "server_error",
            "overloaded_error",
        ),
        (
            Box::new(|| RelayError::from(Deadline::FirstByte)),
            504,
            "upstream_error",
            "timeout_error",
        ),
        (
            Box::new(|| RelayError::Upstream(UpstreamError::Connect("refused".into()))),
            502,
            "upstream_error",
            "api_error",
        ),
        (
            Box::new(|| RelayError::ClientTimeout("slow".into())),
            408,
            "invalid_request_error",
            "invalid_request_error",
        ),
        (
            Box::new(|| RelayError::AdminUnauthorized),
            401,
            "invalid_request_error",
            "authentication_error",
        ),
        (
            Box::new(|| RelayError::Forbidden("f".into())),
            403,
            "invalid_request_error",
            "permission_error",
        ),
        (
            Box::new(|| RelayError::NotFound("n".into())),
            404,
            "invalid_request_error",
            "not_found_error",
        ),
        (
            Box::new(|| RelayError::Internal),
            500,
            "server_error",
            "api_error",
        ),
        (
            Box::new(|| {
                upstream(
                    429,
                    ProviderKind::Openai,
                    r#"{"error":{"message":"m","type":"requests","code":"rate_limit_exceeded"}}"#,
                )
            }),
            429,
            "requests",
            "rate_limit_error",
        ),
        (
            Box::new(|| {
                upstream(
                    500,
                    ProviderKind::Anthropic,
                    r#"{"type":"error","error":{"type":"api_error","message":"m"}}"#,
                )
            }),
            500,
            "server_error",
            "api_error",
        ),
        (
            Box::new(|| {
                upstream(
                    401,
                    ProviderKind::Anthropic,
                    r#"{"type":"error","error":{"type":"authentication_error","message":"m"}}"#,
                )
            }),
            502,
            "upstream_error",
            "api_error",
        ),
    ];
    for (make, status, openai_type, anthropic_type) in &cases {
        let label = make().to_string();
        assert!(
            make()
                .stream_event(WireFormat::OpenAi)
                .starts_with(b"data: {\"error\""),
            "{label}"
        );
        assert!(
            make()
                .stream_event(WireFormat::Anthropic)
                .starts_with(b"event: error\n"),
            "{label}"
        );
        for (format, want) in [
            (WireFormat::OpenAi, openai_type),
            (WireFormat::Anthropic, anthropic_type),
        ] {
            let (s, _, v) = body_of(make().into_response_for(format)).await;
            assert_eq!(
                (s.as_u16(), v["error"]["type"].as_str()),
                (*status, Some(*want)),
                "{label} for {format:?}: {v}"
            );
            assert!(v["error"]["message"].is_string(), "{label}");
        }
    }
}

#[tokio::test]
async fn an_upload_too_large_is_refused_in_openai_words() {
    let e = RelayError::UploadTooLarge {
        limit: 26_214_400,
        read: 26_222_592,
    };
    let (s, _, v) = body_of(e.into_response_for(WireFormat::OpenAi)).await;
    assert_eq!(s, 413);
    assert_eq!(
        v,
        serde_json::json!({"error": {
            "message": "Maximum content size limit (26214400) exceeded (26222592 bytes read)",
            "type": "server_error", "param": null, "code": null}})
    );
}

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
    let (s, _, v) = body_of(RelayError::Internal.into_response_for(WireFormat::Anthropic)).await;
    assert_eq!(
        (s.as_u16(), v["error"]["type"].as_str()),
        (500, Some("api_error"))
    );
}

#[tokio::test]
async fn upstream_429_keeps_status_and_retry_after() {
    let body = r#"{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
    let (s, h, v) =
        body_of(upstream(429, ProviderKind::Openai, body).into_response_for(WireFormat::OpenAi))
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
            ProviderKind::Anthropic,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )
    };
    let (s, _, v) = body_of(err().into_response_for(WireFormat::OpenAi)).await;
    assert_eq!(s, 503);
    assert_eq!(v["error"]["code"], "server_is_overloaded");
    let (s, _, v) = body_of(err().into_response_for(WireFormat::Anthropic)).await;
    assert_eq!(s, 529);
    assert_eq!(v["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn upstream_auth_failures_are_the_relays_problem() {
    let (s, _, v) = body_of(
        upstream(
            401,
            ProviderKind::Openai,
            r#"{"error":{"message":"Incorrect API key","type":"invalid_request_error"}}"#,
        )
        .into_response_for(WireFormat::OpenAi),
    )
    .await;
    assert_eq!(s, 502);
    assert_eq!(v["error"]["code"], "upstream_auth_failed");
    let xai = r#"{"code":"Client specified an invalid argument","error":"Incorrect API key provided: xa***yz."}"#;
    let (s, _, v) =
        body_of(upstream(400, ProviderKind::Xai, xai).into_response_for(WireFormat::Anthropic))
            .await;
    assert_eq!(s, 502, "xAI refuses a key with a 400");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("(400 Bad Request): Incorrect API key provided: xa***yz."),
        "{v}"
    );
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
async fn every_channel_at_its_own_limit_is_a_429_in_each_shape() {
    let limited = || RelayError::ChannelLimit {
        model: "m".into(),
        retry_after: std::time::Duration::from_millis(2_500),
    };
    assert_eq!(limited().outcome(), Outcome::RateLimited);
    let (s, h, v) = body_of(limited().into_response_for(WireFormat::OpenAi)).await;
    assert_eq!((s.as_u16(), h["retry-after"].to_str().unwrap()), (429, "3"));
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(
        v["error"]["message"],
        "every channel for the model `m` is at its rate limit; retry in 3s"
    );
    let (s, _, v) = body_of(limited().into_response_for(WireFormat::Anthropic)).await;
    assert_eq!(s.as_u16(), 429);
    assert_eq!(
        (v["type"].as_str(), v["error"]["type"].as_str()),
        (Some("error"), Some("rate_limit_error"))
    );
    let (_, _, v) = body_of(limited().into_response_for(WireFormat::Gemini)).await;
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
}

#[tokio::test]
async fn passed_through_upstream_errors_keep_only_documented_fields() {
    let body = r#"{"error":{"message":"m","type":"invalid_request_error","param":null,
        "code":null,"debug":{"authorization":"Bearer sk-abcdefghijklmnopqrstuvwxyz"}},"x":1}"#;
    let (s, _, v) =
        body_of(upstream(400, ProviderKind::Openai, body).into_response_for(WireFormat::OpenAi))
            .await;
    assert_eq!(s, 400);
    assert_eq!(
        v,
        json!({"error":{"message":"m","type":"invalid_request_error","param":null,"code":null}})
    );
    let body = r#"{"type":"error","error":{"type":"invalid_request_error","message":"m",
        "debug":"x"},"request_id":"req_1","x":1}"#;
    let (_, _, v) = body_of(
        upstream(400, ProviderKind::Anthropic, body).into_response_for(WireFormat::Anthropic),
    )
    .await;
    assert_eq!(
        v,
        json!({"type":"error","error":{"type":"invalid_request_error","message":"m"},
            "request_id":"req_1"})
    );
}

#[tokio::test]
async fn upstream_errors_are_converted_for_clients_of_the_other_format() {
    let quota =
        r#"{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
    let (s, _, v) = body_of(
        upstream(429, ProviderKind::Openai, quota).into_response_for(WireFormat::Anthropic),
    )
    .await;
    assert_eq!(
        (s.as_u16(), v),
        (
            429,
            json!({"type":"error","error":{"type":"billing_error","message":"quota"}})
        )
    );
    let limited = r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"},"request_id":"req_1"}"#;
    let (_, _, v) = body_of(
        upstream(429, ProviderKind::Anthropic, limited).into_response_for(WireFormat::OpenAi),
    )
    .await;
    assert_eq!(
        v,
        json!({"error":{"message":"slow down","type":"rate_limit_error","param":null,
            "code":"rate_limit_exceeded"}})
    );
    let (_, _, v) = body_of(
        upstream(502, ProviderKind::Anthropic, "<html>bad gateway</html>")
            .into_response_for(WireFormat::OpenAi),
    )
    .await;
    assert_eq!(
        v["error"]["message"], "upstream error (HTTP 502)",
        "no page echoed"
    );
    let (_, _, v) = body_of(
        upstream(404, ProviderKind::Anthropic, r#"{"error":"gone"}"#)
            .into_response_for(WireFormat::OpenAi),
    )
    .await;
    assert_eq!(v["error"]["message"], "gone");
}

#[tokio::test]
async fn key_shapes_are_redacted_even_in_faults_read_without_the_relays_secrets() {
    let fault = UpstreamFault {
        wire: WireFormat::OpenAi,
        status: Some(StatusCode::BAD_REQUEST),
        kind: FaultKind::KeyRefused,
        message: Some("Incorrect API key provided: xai-abcdefghijklmnopqrstuvwxyz0123.".into()),
        retry_after: Vec::new(),
        documented: None,
    };
    let e = RelayError::Upstream(UpstreamError::Status(Box::new(fault)));
    let (s, _, v) = body_of(e.into_response_for(WireFormat::Anthropic)).await;
    assert_eq!(s, 502, "a refused key");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("xai-[redacted]") && !msg.contains("abcdefghij"),
        "{msg}"
    );
}

#[test]
fn stream_errors_keep_documented_fields_and_lose_secrets() {
    let r = Redactor::new(&[crate::config::Secret::new("sk-configured-1")]);
    let none = HeaderMap::new();
    let event = |wire: WireFormat, data: &str| {
        let fault = match wire {
            WireFormat::OpenAi => openai::errors::read(None, &none, data.as_bytes(), &r),
            WireFormat::Anthropic => anthropic::errors::read(None, &none, data.as_bytes(), &r),
            WireFormat::Gemini => panic!("Gemini events are read in providers::gemini's tests"),
        };
        upstream_event(wire, &fault)
    };
    let openai = r#"{"error":{"message":"bad sk-configured-1","type":"server_error","param":null,"code":null,"debug":{"authorization":"Bearer sk-configured-1"}}}"#;
    assert_eq!(
        event(WireFormat::OpenAi, openai),
        SseOut {
            event: None,
            data: r#"{"error":{"message":"bad [redacted]","type":"server_error","param":null,"code":null}}"#.into()
        }
    );
    let xai = r#"{"code":"Internal error","error":"oops sk-configured-1","debug":{"k":"v"}}"#;
    let v: Value = serde_json::from_str(&event(WireFormat::OpenAi, xai).data).unwrap();
    assert_eq!(
        v,
        json!({"error":{"message":"oops [redacted]","type":"server_error","param":null,"code":null}})
    );
    let anthropic = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded sk-configured-1","debug":{"x-api-key":"sk-configured-1"}}}"#;
    let ev = event(WireFormat::Anthropic, anthropic);
    assert_eq!(ev.event, Some("error"));
    assert_eq!(
        ev.data,
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded [redacted]"}}"#
    );
    let v: Value = serde_json::from_str(&event(WireFormat::Anthropic, "not json").data).unwrap();
    assert_eq!(v["error"]["type"], "api_error");
    assert_eq!(v["error"]["message"], "upstream error");
}

#[tokio::test]
async fn gemini_clients_get_google_rpc_status() {
    let (s, _, v) =
        body_of(RelayError::BadRequest("bad".into()).into_response_for(WireFormat::Gemini)).await;
    assert_eq!(s, 400);
    assert_eq!(
        v,
        json!({"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}})
    );
    let fault = UpstreamFault {
        wire: WireFormat::OpenAi,
        status: Some(StatusCode::TOO_MANY_REQUESTS),
        kind: FaultKind::RateLimited,
        message: Some("slow down".into()),
        retry_after: Vec::new(),
        documented: None,
    };
    let v = upstream_error_body(WireFormat::Gemini, &fault);
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(v["error"]["code"], 429);
    let ev = upstream_event(WireFormat::Gemini, &fault);
    assert_eq!(ev.event, None, "Gemini streams name no events");
}

/// A token's refusals in every client format: status, shape, code and headers.
#[tokio::test]
async fn limit_refusals_have_their_status_shape_and_headers_in_every_format() {
    use crate::limits::{QuotaExceeded, RateInfo, RateKind, RateLimited};
    use std::time::Duration;
    let rate = || {
        LimitError::RateLimited(RateLimited {
            kind: RateKind::Requests,
            retry_after: Duration::from_millis(1500),
            info: RateInfo {
                limit: 2,
                remaining: 0,
                reset: Duration::from_millis(1500),
            },
        })
    };
    let quota = || {
        LimitError::QuotaExceeded(QuotaExceeded {
            limit: 10,
            used: 10,
            estimate: 3,
        })
    };
    let cases: Vec<(LimitError, u16, &str, &str, &str)> = vec![
        (
            LimitError::Unknown,
            401,
            "invalid_request_error",
            "authentication_error",
            "UNAUTHENTICATED",
        ),
        (
            LimitError::Revoked,
            401,
            "invalid_request_error",
            "authentication_error",
            "UNAUTHENTICATED",
        ),
        (
            LimitError::Disabled,
            401,
            "invalid_request_error",
            "authentication_error",
            "UNAUTHENTICATED",
        ),
        (
            LimitError::Expired,
            401,
            "invalid_request_error",
            "authentication_error",
            "UNAUTHENTICATED",
        ),
        (
            LimitError::ModelNotAllowed("m".into()),
            403,
            "invalid_request_error",
            "permission_error",
            "PERMISSION_DENIED",
        ),
        (
            LimitError::IpNotAllowed,
            403,
            "invalid_request_error",
            "permission_error",
            "PERMISSION_DENIED",
        ),
        (
            rate(),
            429,
            "rate_limit_error",
            "rate_limit_error",
            "RESOURCE_EXHAUSTED",
        ),
        (
            quota(),
            429,
            "insufficient_quota",
            "rate_limit_error",
            "RESOURCE_EXHAUSTED",
        ),
        (
            LimitError::SpoolFull,
            503,
            "server_error",
            "overloaded_error",
            "UNAVAILABLE",
        ),
        (
            LimitError::Unavailable,
            503,
            "server_error",
            "overloaded_error",
            "UNAVAILABLE",
        ),
    ];
    for (e, status, openai, anthropic, google) in cases {
        let code = e.code();
        let (s, h, v) =
            body_of(RelayError::Limit(e.clone()).into_response_for(WireFormat::OpenAi)).await;
        assert_eq!(s.as_u16(), status, "{e:?}");
        assert_eq!(v["error"]["type"], openai, "{e:?}: {v}");
        assert_eq!(v["error"]["code"], code, "{e:?}: {v}");
        for (name, value) in e.headers() {
            assert_eq!(h[name], value.as_str(), "{e:?}: {name}");
        }
        let (s, _, v) =
            body_of(RelayError::Limit(e.clone()).into_response_for(WireFormat::Anthropic)).await;
        assert_eq!(s.as_u16(), status);
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], anthropic, "{e:?}: {v}");
        let (s, _, v) =
            body_of(RelayError::Limit(e.clone()).into_response_for(WireFormat::Gemini)).await;
        assert_eq!(s.as_u16(), status);
        assert_eq!(v["error"]["code"], status, "{e:?}: {v}");
        assert_eq!(v["error"]["status"], google, "{e:?}: {v}");
    }
    let (_, h, _) = body_of(RelayError::Limit(rate()).into_response_for(WireFormat::OpenAi)).await;
    assert_eq!(h["retry-after"], "2");
    assert_eq!(h["x-ratelimit-limit-requests"], "2");
    assert_eq!(h["x-ratelimit-remaining-requests"], "0");
}
