//! Response headers per provider (request ids, rate limits, retry-after) and the
//! final assembly of a handler's result. Must never build bodies.

use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::errors::ApiError;
use crate::gen::ids::{rfc3339_in, Ids};
use crate::http::reply::SimReply;
use crate::Provider;

const REQUESTS_LIMIT: u64 = 10_000;
const TOKENS_LIMIT: u64 = 10_000_000;

fn put(h: &mut HeaderMap, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        h.insert(HeaderName::from_static(name), v);
    }
}

/// Headers every response of `provider` carries; `limited` marks a 429.
pub(crate) fn common(provider: Provider, request_id: &str, limited: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    let (req_left, tok_left) = if limited {
        (0, 0)
    } else {
        (REQUESTS_LIMIT - 1, TOKENS_LIMIT - 1000)
    };
    match provider {
        Provider::OpenAi => {
            put(&mut h, "x-request-id", request_id);
            put(&mut h, "openai-version", "2020-10-01");
            put(&mut h, "openai-organization", "sim-org");
            put(&mut h, "x-ratelimit-limit-requests", REQUESTS_LIMIT);
            put(&mut h, "x-ratelimit-remaining-requests", req_left);
            put(
                &mut h,
                "x-ratelimit-reset-requests",
                if limited { "1s" } else { "6ms" },
            );
            put(&mut h, "x-ratelimit-limit-tokens", TOKENS_LIMIT);
            put(&mut h, "x-ratelimit-remaining-tokens", tok_left);
            put(
                &mut h,
                "x-ratelimit-reset-tokens",
                if limited { "1s" } else { "0s" },
            );
        }
        Provider::Anthropic => {
            put(&mut h, "request-id", request_id);
            let reset = rfc3339_in(Duration::from_secs(1));
            for (kind, limit, left) in [
                ("requests", REQUESTS_LIMIT, req_left),
                ("tokens", TOKENS_LIMIT, tok_left),
                ("input-tokens", TOKENS_LIMIT, tok_left),
                ("output-tokens", TOKENS_LIMIT, tok_left),
            ] {
                let name = |part: &str| format!("anthropic-ratelimit-{kind}-{part}");
                for (part, value) in [
                    ("limit", limit.to_string()),
                    ("remaining", left.to_string()),
                    ("reset", reset.clone()),
                ] {
                    if let (Ok(n), Ok(v)) = (
                        HeaderName::try_from(name(part)),
                        HeaderValue::try_from(value),
                    ) {
                        h.insert(n, v);
                    }
                }
            }
        }
        Provider::Xai => put(&mut h, "x-request-id", request_id),
        // The video-only providers' request ids live in their bodies; this one is the
        // simulator's own, for tracing.
        Provider::Kling
        | Provider::Runway
        | Provider::Luma
        | Provider::Zhipu
        | Provider::Dashscope
        | Provider::Viggle => put(&mut h, "x-request-id", request_id),
        // Google sends no request id and no rate-limit headers (quota trouble is told in the
        // 429 body); these are the front end's own.
        Provider::Gemini | Provider::Vertex => {
            put(&mut h, "server", "scaffolding on HTTPServer2");
            put(&mut h, "vary", "Origin, X-Origin, Referer");
            put(&mut h, "x-content-type-options", "nosniff");
            put(&mut h, "x-frame-options", "SAMEORIGIN");
            put(&mut h, "x-xss-protection", "0");
        }
        Provider::GoogleOAuth => {
            put(&mut h, "server", "scaffolding on HTTPServer2");
            put(
                &mut h,
                "cache-control",
                "no-cache, no-store, max-age=0, must-revalidate",
            );
            put(&mut h, "pragma", "no-cache");
        }
    }
    h
}

/// Headers of an error reply: the common ones plus `retry-after` on 429 and 5xx overloads
/// (not for Google, whose 429 bodies carry a `RetryInfo` instead, and whose 401s carry
/// `www-authenticate`).
pub(crate) fn for_error(
    provider: Provider,
    request_id: &str,
    status: StatusCode,
    retry_after: Option<u64>,
) -> HeaderMap {
    let limited = status == StatusCode::TOO_MANY_REQUESTS;
    let mut h = common(provider, request_id, limited);
    match provider {
        Provider::OpenAi | Provider::Anthropic | Provider::Xai => {}
        Provider::Kling
        | Provider::Runway
        | Provider::Luma
        | Provider::Zhipu
        | Provider::Dashscope
        | Provider::Viggle => {}
        Provider::Gemini | Provider::Vertex | Provider::GoogleOAuth => {
            if status == StatusCode::UNAUTHORIZED {
                put(
                    &mut h,
                    "www-authenticate",
                    "Bearer realm=\"https://accounts.google.com/\"",
                );
            }
            return h;
        }
    }
    let wants_retry = limited || matches!(status.as_u16(), 503 | 529);
    if let Some(secs) = retry_after.or(wants_retry.then_some(1)) {
        put(&mut h, "retry-after", secs);
    }
    h
}

/// Turns a handler's result into the response, adding the provider's headers.
pub(crate) fn respond(
    provider: Provider,
    ids: &Ids,
    started: Instant,
    result: Result<SimReply, ApiError>,
) -> Response {
    let request_id = ids.next("req_");
    let reply = match result {
        Ok(reply) => reply.with_headers(common(provider, &request_id, false)),
        Err(e) => e.reply(provider, &request_id).with_headers(for_error(
            provider,
            &request_id,
            e.status,
            None,
        )),
    };
    let mut reply = reply;
    let millis = started.elapsed().as_millis();
    match provider {
        Provider::OpenAi => put(&mut reply.headers, "openai-processing-ms", millis),
        Provider::Gemini | Provider::Vertex => put(
            &mut reply.headers,
            "server-timing",
            format!("gfet4t7; dur={millis}"),
        ),
        Provider::Anthropic | Provider::Xai | Provider::GoogleOAuth => {}
        Provider::Kling
        | Provider::Runway
        | Provider::Luma
        | Provider::Zhipu
        | Provider::Dashscope
        | Provider::Viggle => {}
    }
    reply.into_response()
}
