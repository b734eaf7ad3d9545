//! An upstream that answered a `stream: true` request with one complete JSON body: that answer
//! served as the stream the upstream would have sent, in its own format, so that the usual
//! transform (pass-through or bridge) serves it to the client as a well-formed stream.
//!
//! Owns: what every provider's replay shares: a body that is an event stream after all (a
//! server that labels its SSE `application/json`) is relayed as it is; invalid JSON is the
//! upstream's fault; an error body is the error it names (`code` or `status`, 400-599, else
//! 502), read by its provider, before any 200. Each provider turns its answer into its events
//! (`providers::<name>::replay`). Must never: answer an error body as a stream, or read more
//! than the bounded body it is given.

use super::Provider;
use crate::stream::sse::encode;
use crate::upstream::{Redactor, UpstreamError};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use serde_json::Value;

/// The replayed stream being written.
pub(crate) struct Events(BytesMut);

impl Events {
    pub(crate) fn put(&mut self, event: Option<&str>, data: &Value) {
        self.0.extend_from_slice(&encode(event, &data.to_string()));
    }

    pub(crate) fn put_text(&mut self, event: Option<&str>, data: &str) {
        self.0.extend_from_slice(&encode(event, data));
    }
}

/// The SSE bytes of the stream `provider` would have sent for `body`, its JSON answer:
/// `is_error` tells its error bodies from its answers, `events` writes an answer's events.
pub(crate) fn replay(
    provider: &dyn Provider,
    body: &[u8],
    redactor: &Redactor,
    is_error: fn(&Value) -> bool,
    events: impl FnOnce(&Value, &mut Events) -> Result<(), UpstreamError>,
) -> Result<Bytes, UpstreamError> {
    if looks_like_sse(body) {
        return Ok(Bytes::copy_from_slice(body));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        UpstreamError::Invalid(format!(
            "the upstream answered a stream request with invalid JSON: {e}"
        ))
    })?;
    if is_error(&v) {
        let fault = provider.fault(named_status(&v), &HeaderMap::new(), body, redactor);
        return Err(UpstreamError::Status(Box::new(fault)));
    }
    let mut out = Events(BytesMut::new());
    events(&v, &mut out)?;
    Ok(out.0.freeze())
}

/// An answer on an operation that does not stream.
pub(crate) fn not_streamed() -> UpstreamError {
    UpstreamError::Invalid(
        "the upstream answered with JSON on an endpoint that does not stream".to_owned(),
    )
}

/// An answer that lacks what its events need.
pub(crate) fn invalid(what: &str) -> UpstreamError {
    UpstreamError::Invalid(format!(
        "the upstream's JSON answer to a stream request {what}"
    ))
}

/// Whether a body starts as an event stream does (`data:`, `event:`, or a `:` comment).
fn looks_like_sse(body: &[u8]) -> bool {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let rest = &body[start..];
    rest.starts_with(b"data:") || rest.starts_with(b"event:") || rest.starts_with(b":")
}

/// The status an error body names (`error.code`, `error.status`, `code`, `status`: 400-599),
/// else 502.
fn named_status(v: &Value) -> StatusCode {
    [
        &v["error"]["code"],
        &v["error"]["status"],
        &v["code"],
        &v["status"],
    ]
    .into_iter()
    .find_map(Value::as_u64)
    .and_then(|c| u16::try_from(c).ok())
    .filter(|c| (400..600).contains(c))
    .and_then(|c| StatusCode::from_u16(c).ok())
    .unwrap_or(StatusCode::BAD_GATEWAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;
    use crate::providers::provider_for;
    use crate::wire::Endpoint;

    #[test]
    fn an_error_body_is_the_error_it_names_and_bad_json_is_invalid() {
        let cases: [(ProviderKind, &str, u16); 4] = [
            (
                ProviderKind::Openai,
                r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
                502,
            ),
            (
                ProviderKind::Openai,
                r#"{"object":"error","error":{"message":"bad","code":400}}"#,
                400,
            ),
            (
                ProviderKind::OpenaiCompatible,
                r#"{"error":"Model not loaded","code":503}"#,
                503,
            ),
            (
                ProviderKind::Anthropic,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"x"}}"#,
                502,
            ),
        ];
        let r = Redactor::default();
        for (kind, body, want) in cases {
            let p = provider_for(kind);
            let op = p.serves(Endpoint::Chat).unwrap();
            match p.replay(op, body.as_bytes(), &r) {
                Err(UpstreamError::Status(f)) => {
                    assert_eq!(f.status.map(|s| s.as_u16()), Some(want), "{body}");
                    assert!(f.message.is_some(), "{body}");
                }
                other => panic!("{other:?}"),
            }
        }
        let openai = provider_for(ProviderKind::Openai);
        let sse = b"data: {\"choices\":[]}\n\ndata: [DONE]\n\n";
        assert_eq!(
            &openai.replay(Endpoint::Chat, sse, &r).unwrap()[..],
            &sse[..]
        );
        for bad in [&b"{nope"[..], b"{}"] {
            assert!(matches!(
                openai.replay(Endpoint::Chat, bad, &r),
                Err(UpstreamError::Invalid(_))
            ));
        }
    }
}
