//! Thin endpoint handlers: authenticate, read the body bounded, hand over to the relay.
//!
//! Owns: the request-body bound (413) and turning auth failures into the endpoint's error shape.
//! Must never: route, convert or call upstream.

use crate::error::RelayError;
use crate::providers::{Endpoint, WireFormat};
use crate::relay::{self, Record};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use std::sync::Arc;

pub async fn chat(State(s): State<Arc<AppState>>, h: HeaderMap, b: Body) -> Response {
    handle(&s, Endpoint::Chat, h, b).await
}

pub async fn completions(State(s): State<Arc<AppState>>, h: HeaderMap, b: Body) -> Response {
    handle(&s, Endpoint::Completions, h, b).await
}

pub async fn embeddings(State(s): State<Arc<AppState>>, h: HeaderMap, b: Body) -> Response {
    handle(&s, Endpoint::Embeddings, h, b).await
}

pub async fn messages(State(s): State<Arc<AppState>>, h: HeaderMap, b: Body) -> Response {
    handle(&s, Endpoint::Messages, h, b).await
}

async fn handle(state: &AppState, endpoint: Endpoint, headers: HeaderMap, body: Body) -> Response {
    let format = endpoint.client_format();
    #[cfg(feature = "canary")]
    crate::canary::detached_task();
    let mut record = Record::new(request_id(&headers), endpoint, state.monitor.ledger());
    let token = match state.tokens.authenticate(&headers) {
        Ok(t) => t,
        Err(e) => {
            record.fail(&e);
            return e.into_response_for(format);
        }
    };
    let body = match read_body(body, state.config.limits.max_request_body).await {
        Ok(b) => b,
        Err(e) => {
            record.fail(&e);
            return e.into_response_for(format);
        }
    };
    relay::relay(state, endpoint, &token, &headers, body, record).await
}

/// Reads the whole request body, refusing it as soon as it passes `max` bytes.
async fn read_body(body: Body, max: usize) -> Result<Bytes, RelayError> {
    match Limited::new(body, max).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(RelayError::BodyTooLarge(max))
        }
        Err(e) => Err(RelayError::BadRequest(format!(
            "the request body could not be read: {e}"
        ))),
    }
}

pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

pub async fn not_found(uri: Uri, headers: HeaderMap) -> Response {
    let format = if headers.contains_key("anthropic-version") {
        WireFormat::Anthropic
    } else {
        WireFormat::OpenAi
    };
    let mut resp =
        RelayError::BadRequest(format!("unknown path {}", uri.path())).into_response_for(format);
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    let mut resp = RelayError::BadRequest("internal relay error".to_owned())
        .into_response_for(WireFormat::OpenAi);
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    resp
}
