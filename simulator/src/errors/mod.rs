//! Provider errors: what went wrong, and each provider's own error envelope for it.
//! Owns the error bodies (OpenAI, Anthropic, xAI here; Google's in `google.rs`), also the
//! careless ones of the `echo-key` fault that repeat the request's key; must never decide
//! when to fail.

mod google;
pub(crate) mod media;

pub(crate) use google::{error_info, localized};

use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::http::reply::SimReply;
use crate::Provider;

/// The class of an error, mapped to each provider's type/code words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    InvalidRequest,
    Authentication,
    Billing,
    Permission,
    NotFound,
    TooLarge,
    RateLimit,
    Server,
    Overloaded,
    Timeout,
}

/// An error answer of a provider.
#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
    /// OpenAI's `param` field.
    pub(crate) param: Option<&'static str>,
    /// Google's `details` (`google.rpc.ErrorInfo`, ...); other providers ignore them.
    pub(crate) details: Vec<Value>,
    /// The retry delay a 429 asks for, in seconds: Google puts it in a `google.rpc.RetryInfo`
    /// detail (the other providers send it as the `retry-after` header instead).
    pub(crate) retry_after: Option<u64>,
    /// OpenAI's `type` and `code` when they are not the usual words for `kind` (the media
    /// endpoints' own, e.g. `image_generation_user_error` / `moderation_blocked`).
    pub(crate) words: Option<Box<Words>>,
}

/// OpenAI's `type` and `code` of a media error, and one more member of its `error` object
/// (e.g. `moderation_details`).
#[derive(Clone, Debug)]
pub(crate) struct Words {
    pub(crate) ty: &'static str,
    pub(crate) code: Option<&'static str>,
    pub(crate) extra: Option<(&'static str, Value)>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            param: None,
            details: Vec::new(),
            retry_after: None,
            words: None,
        }
    }

    /// Adds a Google error detail.
    pub(crate) fn with_detail(mut self, detail: Value) -> Self {
        self.details.push(detail);
        self
    }

    /// Sets the retry delay a 429 asks for.
    pub(crate) fn with_retry_after(mut self, secs: Option<u64>) -> Self {
        self.retry_after = secs;
        self
    }

    /// 400 invalid request.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorKind::InvalidRequest, message)
    }

    /// A missing or wrong key: 401, except xAI and the Gemini API answer 400.
    pub(crate) fn bad_key(provider: Provider, message: impl Into<String>) -> Self {
        let status = match provider {
            Provider::Xai | Provider::Gemini => StatusCode::BAD_REQUEST,
            Provider::OpenAi
            | Provider::Anthropic
            | Provider::Vertex
            | Provider::GoogleOAuth
            | Provider::Kling
            | Provider::Runway
            | Provider::Luma
            | Provider::Zhipu
            | Provider::Dashscope
            | Provider::Viggle => StatusCode::UNAUTHORIZED,
        };
        Self::new(status, ErrorKind::Authentication, message)
    }

    /// 404 for a model the provider does not serve (the Google providers word theirs where
    /// they know the path: `gemini::models`, `vertex::paths`).
    pub(crate) fn unknown_model(provider: Provider, model: &str) -> Self {
        let message = match provider {
            Provider::Anthropic => format!("model: {model}"),
            Provider::Gemini | Provider::Vertex | Provider::GoogleOAuth => {
                format!("Model {model} is not found.")
            }
            Provider::OpenAi | Provider::Xai => {
                format!("The model `{model}` does not exist or you do not have access to it.")
            }
            Provider::Kling
            | Provider::Runway
            | Provider::Luma
            | Provider::Zhipu
            | Provider::Dashscope
            | Provider::Viggle => format!("model {model} is not supported"),
        };
        let mut e = Self::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, message);
        e.param = Some("model");
        e
    }

    /// The error `provider` sends with `status` (used for injected faults).
    pub(crate) fn for_status(provider: Provider, status: StatusCode) -> Self {
        let kind = match status.as_u16() {
            401 => ErrorKind::Authentication,
            402 => ErrorKind::Billing,
            403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            408 | 504 => ErrorKind::Timeout,
            413 => ErrorKind::TooLarge,
            429 => ErrorKind::RateLimit,
            503 | 529 => ErrorKind::Overloaded,
            c if c >= 500 => ErrorKind::Server,
            _ => ErrorKind::InvalidRequest,
        };
        let message = match kind {
            ErrorKind::RateLimit => "Rate limit reached for requests (simulated).",
            ErrorKind::Overloaded => "Overloaded (simulated).",
            ErrorKind::Timeout => "Request timed out (simulated).",
            ErrorKind::Server => {
                "The server had an error while processing your request (simulated)."
            }
            _ => "Simulated error.",
        };
        let message = match provider {
            Provider::Gemini | Provider::Vertex | Provider::GoogleOAuth => {
                google::fault_message(provider, kind).unwrap_or(message)
            }
            Provider::OpenAi | Provider::Anthropic | Provider::Xai => message,
            Provider::Kling
            | Provider::Runway
            | Provider::Luma
            | Provider::Zhipu
            | Provider::Dashscope
            | Provider::Viggle => message,
        };
        Self::new(status, kind, message)
    }

    /// The provider's error body for this error.
    pub(crate) fn body(&self, provider: Provider, request_id: &str) -> Value {
        match provider {
            Provider::OpenAi => {
                let (ty, code) = self
                    .words
                    .as_ref()
                    .map_or_else(|| openai_words(self.kind, self.status), |w| (w.ty, w.code));
                let mut body = json!({"error": {"message": self.message, "type": ty, "param": self.param, "code": code}});
                if let Some((name, value)) = self.words.as_ref().and_then(|w| w.extra.as_ref()) {
                    body["error"][*name] = value.clone();
                }
                body
            }
            Provider::Anthropic => json!({
                "type": "error",
                "error": {"type": anthropic_type(self.kind), "message": self.message},
                "request_id": request_id,
            }),
            Provider::Xai => json!({"code": xai_code(self.kind), "error": self.message}),
            Provider::Gemini | Provider::Vertex => google::body(self, provider),
            Provider::GoogleOAuth => google::oauth_body(self),
            Provider::Kling
            | Provider::Runway
            | Provider::Luma
            | Provider::Zhipu
            | Provider::Dashscope
            | Provider::Viggle => crate::video::envelope::body(self, provider, request_id),
        }
    }

    /// The error with the provider's own error code (`"1002"` for Kling, `"InvalidApiKey"` for
    /// DashScope, `"CS-ORAU-001"` for Viggle, OpenAI's `code`), in place of the usual one.
    pub(crate) fn with_code(mut self, code: &'static str) -> Self {
        let ty = match self.kind {
            ErrorKind::Server | ErrorKind::Overloaded | ErrorKind::Timeout => "server_error",
            _ => "invalid_request_error",
        };
        self.words = Some(Box::new(Words {
            ty,
            code: Some(code),
            extra: None,
        }));
        self
    }

    /// The error as a reply (headers are added by the caller).
    pub(crate) fn reply(&self, provider: Provider, request_id: &str) -> SimReply {
        json_reply(provider, self.status, &self.body(provider, request_id))
    }
}

/// An error body as a reply, laid out as the provider does: Google pretty-prints its JSON.
pub(crate) fn json_reply(provider: Provider, status: StatusCode, body: &Value) -> SimReply {
    match provider {
        Provider::Gemini | Provider::Vertex | Provider::GoogleOAuth => {
            SimReply::json_pretty(status, body)
        }
        Provider::OpenAi | Provider::Anthropic | Provider::Xai => SimReply::json(status, body),
        Provider::Kling
        | Provider::Runway
        | Provider::Luma
        | Provider::Zhipu
        | Provider::Dashscope
        | Provider::Viggle => SimReply::json(status, body),
    }
}

fn openai_words(kind: ErrorKind, status: StatusCode) -> (&'static str, Option<&'static str>) {
    match kind {
        ErrorKind::InvalidRequest => ("invalid_request_error", None),
        ErrorKind::Authentication => ("invalid_request_error", Some("invalid_api_key")),
        ErrorKind::Billing => ("insufficient_quota", Some("insufficient_quota")),
        ErrorKind::Permission => (
            "invalid_request_error",
            Some("unsupported_country_region_territory"),
        ),
        ErrorKind::NotFound => ("invalid_request_error", Some("model_not_found")),
        ErrorKind::TooLarge => ("invalid_request_error", Some("request_too_large")),
        ErrorKind::RateLimit => ("requests", Some("rate_limit_exceeded")),
        ErrorKind::Server => ("server_error", None),
        ErrorKind::Overloaded if status == StatusCode::SERVICE_UNAVAILABLE => {
            ("server_error", Some("server_is_overloaded"))
        }
        ErrorKind::Overloaded => ("server_error", Some("slow_down")),
        ErrorKind::Timeout => ("server_error", Some("timeout")),
    }
}

fn anthropic_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest => "invalid_request_error",
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::Billing => "billing_error",
        ErrorKind::Permission => "permission_error",
        ErrorKind::NotFound => "not_found_error",
        ErrorKind::TooLarge => "request_too_large",
        ErrorKind::RateLimit => "rate_limit_error",
        ErrorKind::Server => "api_error",
        ErrorKind::Overloaded => "overloaded_error",
        ErrorKind::Timeout => "timeout_error",
    }
}

fn xai_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest | ErrorKind::Authentication | ErrorKind::TooLarge => {
            "Client specified an invalid argument"
        }
        ErrorKind::Billing | ErrorKind::Permission => {
            "The caller does not have permission to execute the specified operation"
        }
        ErrorKind::NotFound => "Some requested entity was not found",
        ErrorKind::RateLimit => "Too many requests",
        ErrorKind::Server => "Internal error",
        ErrorKind::Overloaded => "The service is currently unavailable",
        ErrorKind::Timeout => "Deadline exceeded",
    }
}

/// The request's credentials, for the `echo-key` fault: an upstream that carelessly repeats
/// them in its errors (in the message, and the whole header in a `debug` member).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Echo {
    /// `authorization`, `x-api-key` or `x-goog-api-key`, as the request sent it, or `key`
    /// for the Gemini API's `?key=` query parameter.
    header: &'static str,
    value: String,
    /// The key itself (the bearer token, or the header's or parameter's value).
    key: String,
}

impl Echo {
    /// The credentials of a request (its headers, then a `key` query parameter), if any.
    pub(crate) fn from_request(headers: &HeaderMap, query: Option<&str>) -> Option<Echo> {
        let from_header = ["authorization", "x-api-key", "x-goog-api-key"]
            .into_iter()
            .find_map(|header| {
                let value = headers.get(header)?.to_str().ok()?.to_owned();
                let key = match value.split_once(' ') {
                    Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
                    _ => value.as_str(),
                }
                .to_owned();
                Some(Echo { header, value, key })
            });
        from_header.or_else(|| {
            let key = crate::gemini::auth::query_key(query?)?;
            Some(Echo {
                header: "key",
                value: key.clone(),
                key,
            })
        })
    }

    /// Puts the key into the message of a provider's error body (as "Incorrect API key
    /// provided: KEY" when the error `refuses` the key, else "(request key: KEY)") and adds a
    /// `debug` member with the credentials header (inside `error` where it is an object, else
    /// at the top).
    pub(crate) fn apply(&self, provider: Provider, body: &mut Value, refuses: bool) {
        let debug = json!({ self.header: self.value });
        let pointer = match provider {
            Provider::OpenAi | Provider::Anthropic | Provider::Gemini | Provider::Vertex => {
                "/error/message"
            }
            Provider::Xai | Provider::Runway => "/error",
            Provider::GoogleOAuth => "/error_description",
            Provider::Kling | Provider::Dashscope => "/message",
            Provider::Luma => "/detail",
            Provider::Zhipu => "/error/message",
            Provider::Viggle => "/detail/message",
        };
        let mut missing = Value::Null;
        let message = body.pointer_mut(pointer).unwrap_or(&mut missing);
        let text = message.as_str().unwrap_or("");
        let text = if refuses {
            format!("Incorrect API key provided: {}. {text}", self.key)
        } else {
            format!("{text} (request key: {})", self.key)
        };
        *message = Value::String(text);
        match provider {
            Provider::OpenAi | Provider::Anthropic | Provider::Gemini | Provider::Vertex => {
                body["error"]["debug"] = debug
            }
            Provider::Xai
            | Provider::GoogleOAuth
            | Provider::Kling
            | Provider::Runway
            | Provider::Luma
            | Provider::Zhipu
            | Provider::Dashscope
            | Provider::Viggle => body["debug"] = debug,
        }
    }
}

/// The body of the provider's in-stream error (sent after a 200 stream has begun); with
/// `echo`, one that repeats the request's key.
pub(crate) fn stream_error_body(provider: Provider, echo: Option<&Echo>) -> Value {
    let mut body = match provider {
        Provider::OpenAi => {
            json!({"error": {"message": "The server had an error while processing your request. (simulated)",
                "type": "server_error", "param": null, "code": null}})
        }
        Provider::Anthropic => {
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        }
        Provider::Xai => {
            json!({"code": "Internal error", "error": "The service encountered an error (simulated)."})
        }
        Provider::Gemini | Provider::Vertex | Provider::GoogleOAuth => google::stream_error(),
        Provider::Kling
        | Provider::Runway
        | Provider::Luma
        | Provider::Zhipu
        | Provider::Dashscope
        | Provider::Viggle => ApiError::for_status(provider, StatusCode::INTERNAL_SERVER_ERROR)
            .body(provider, "req_stream"),
    };
    if let Some(echo) = echo {
        echo.apply(provider, &mut body, false);
    }
    body
}

/// The provider's in-stream error event, framed as the provider frames it in an event
/// stream: an SSE event, except for Google, which (as publicly observed, undocumented) breaks
/// the SSE framing with the error object as bare pretty-printed JSON lines.
pub(crate) fn stream_error_event(provider: Provider, echo: Option<&Echo>) -> bytes::Bytes {
    use crate::http::reply::event;
    let body = stream_error_body(provider, echo);
    match provider {
        Provider::Anthropic => event(Some("error"), &body),
        Provider::OpenAi | Provider::Xai => event(None, &body),
        Provider::Kling
        | Provider::Runway
        | Provider::Luma
        | Provider::Zhipu
        | Provider::Dashscope
        | Provider::Viggle => event(None, &body),
        Provider::Gemini | Provider::Vertex | Provider::GoogleOAuth => {
            let mut text = serde_json::to_vec_pretty(&body).unwrap_or_default();
            text.push(b'\n');
            text.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_per_provider() {
        let e = ApiError::bad_key(Provider::OpenAi, "bad");
        assert_eq!(e.status, 401);
        assert_eq!(
            e.body(Provider::OpenAi, "r")["error"]["code"],
            "invalid_api_key"
        );
        let e = ApiError::bad_key(Provider::Xai, "bad");
        assert_eq!(e.status, 400);
        assert_eq!(e.body(Provider::Xai, "r")["error"], "bad");
        let e = ApiError::for_status(
            Provider::Anthropic,
            StatusCode::from_u16(529).unwrap_or_default(),
        );
        let b = e.body(Provider::Anthropic, "req_1");
        assert_eq!(b["error"]["type"], "overloaded_error");
        assert_eq!(b["request_id"], "req_1");
        let e = ApiError::for_status(Provider::OpenAi, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            e.body(Provider::OpenAi, "r")["error"]["code"],
            "server_is_overloaded"
        );
    }

    #[test]
    fn echo_repeats_the_key_in_the_message_and_a_debug_member() {
        let mut h = HeaderMap::new();
        assert_eq!(Echo::from_request(&h, None), None);
        h.insert("authorization", "Bearer sk-secret-1".parse().unwrap());
        let echo = Echo::from_request(&h, None).unwrap();
        let mut b = ApiError::for_status(Provider::OpenAi, StatusCode::UNAUTHORIZED)
            .body(Provider::OpenAi, "r");
        echo.apply(Provider::OpenAi, &mut b, true);
        assert!(b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Incorrect API key provided: sk-secret-1."));
        assert_eq!(b["error"]["debug"]["authorization"], "Bearer sk-secret-1");

        let mut h = HeaderMap::new();
        h.insert("x-api-key", "sk-ant-secret-2".parse().unwrap());
        let echo = Echo::from_request(&h, None).unwrap();
        let mut b = ApiError::for_status(Provider::Xai, StatusCode::TOO_MANY_REQUESTS)
            .body(Provider::Xai, "r");
        echo.apply(Provider::Xai, &mut b, false);
        assert!(b["error"]
            .as_str()
            .unwrap()
            .ends_with("(request key: sk-ant-secret-2)"));
        assert_eq!(b["debug"]["x-api-key"], "sk-ant-secret-2");
        let ev = stream_error_event(Provider::Anthropic, Some(&echo));
        let text = String::from_utf8_lossy(&ev);
        assert!(text.starts_with("event: error\n"), "{text}");
        assert_eq!(text.matches("sk-ant-secret-2").count(), 2, "{text}");

        let echo = Echo::from_request(&HeaderMap::new(), Some("alt=sse&key=AIzaSecret3")).unwrap();
        let mut b = ApiError::for_status(Provider::Gemini, StatusCode::FORBIDDEN)
            .body(Provider::Gemini, "r");
        echo.apply(Provider::Gemini, &mut b, true);
        assert!(b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Incorrect API key provided: AIzaSecret3."));
        assert_eq!(b["error"]["debug"]["key"], "AIzaSecret3");
    }
}
