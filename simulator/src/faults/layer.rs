//! The fault middleware in front of every provider route: counts the request, chooses its
//! faults, and applies them around the (fault-free) provider handler. JSON bodies are read
//! whole (bounded); multipart uploads only up to a look-ahead (`upload.rs`), then streamed.
//! Owns the order of fault application; must never build provider answers.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde_json::json;

use super::select::{Chosen, ChosenFaults};
use super::spec::{Fault, FaultError};
use super::{select, transform, upload};
use crate::errors::{json_reply, ApiError, Echo, ErrorKind};
use crate::headers;
use crate::server::{ConnAction, ConnControl};
use crate::state::Ctx;

/// Largest request body read (bigger ones get the provider's 413).
const MAX_BODY: usize = 32 << 20;

/// Middleware: see the module docs.
pub(crate) async fn layer(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    let prefix = ctx.provider.path_prefix();
    let path = req.uri().path();
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(path, |p| p.as_str());
    let (endpoint, path_model) = ctx.provider.endpoint(
        matched.strip_prefix(prefix).unwrap_or(matched),
        path.strip_prefix(prefix).unwrap_or(path),
    );
    ctx.shared.stats.request(ctx.provider, &endpoint);
    let (mut parts, body) = req.into_parts();
    if upload::is_multipart(&parts.headers) {
        return multipart(ctx, &endpoint, path_model, parts, body, next).await;
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        let e = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::TooLarge,
            "Request exceeds the maximum allowed size.",
        );
        return headers::respond(ctx.provider, &ctx.shared.ids, Instant::now(), Err(e));
    };
    let chosen = match choose(
        &ctx,
        &endpoint,
        path_model.as_deref(),
        &parts.headers,
        &bytes,
    ) {
        Ok(c) => c,
        Err(e) => return bad_spec(&e),
    };
    let model = select::json_model(&bytes);
    let control = parts.extensions.get::<ConnControl>().cloned();
    if !chosen.faults.is_empty() {
        parts.extensions.insert(ChosenFaults(chosen.faults.clone()));
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    if chosen.faults.is_empty() {
        return next.run(req).await;
    }
    faulted(ctx, chosen, model, control, req, next).await
}

/// The path of a multipart upload: faults chosen from its look-ahead, the rest streamed to
/// the handler (or, with `stall-upload`, left unread).
async fn multipart(
    ctx: Ctx,
    endpoint: &str,
    path_model: Option<String>,
    mut parts: http::request::Parts,
    body: Body,
    next: Next,
) -> Response {
    let control = parts.extensions.get::<ConnControl>().cloned();
    let upload = upload::begin(&ctx, endpoint, body).await;
    let chosen = match choose(
        &ctx,
        endpoint,
        path_model.as_deref(),
        &parts.headers,
        &upload.head,
    ) {
        Ok(c) => c,
        Err(e) => return bad_spec(&e),
    };
    if let Some(limit) = chosen.faults.find(|f| match f {
        Fault::StallUpload(n) => Some(n.unwrap_or(upload::LOOKAHEAD)),
        _ => None,
    }) {
        ctx.shared.stats.fault("stall-upload");
        return upload.stall(&ctx, endpoint, limit, control).await;
    }
    let model = select::multipart_model(&upload.head);
    if !chosen.faults.is_empty() {
        parts.extensions.insert(ChosenFaults(chosen.faults.clone()));
    }
    let req = Request::from_parts(parts, upload.into_body(&ctx, endpoint));
    if chosen.faults.is_empty() {
        return next.run(req).await;
    }
    faulted(ctx, chosen, model, control, req, next).await
}

fn choose(
    ctx: &Ctx,
    endpoint: &str,
    path_model: Option<&str>,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Chosen, FaultError> {
    ctx.shared
        .faults
        .choose(ctx.provider, endpoint, path_model, headers, body)
}

fn bad_spec(e: &FaultError) -> Response {
    let body = json!({"error": {"type": "sim_fault_error", "message": e.to_string()}});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// Hands the connection to the connection task, then waits to be dropped by it.
async fn give_up_connection(control: Option<ConnControl>, action: ConnAction) -> Response {
    if let Some(c) = control {
        c.request(action);
    }
    std::future::pending().await
}

async fn faulted(
    ctx: Ctx,
    chosen: Chosen,
    model: Option<String>,
    control: Option<ConnControl>,
    req: Request,
    next: Next,
) -> Response {
    let Chosen { faults, mut rng } = chosen;
    let stats = &ctx.shared.stats;
    if let Some(d) = faults.find(|f| match f {
        Fault::Delay(d) => Some(*d),
        _ => None,
    }) {
        stats.fault("delay");
        tokio::time::sleep(d).await;
    }
    if let Some(stall) = faults.find(|f| match f {
        Fault::StallHeaders(d) => Some(*d),
        _ => None,
    }) {
        stats.fault("stall-headers");
        return match stall {
            Some(d) => {
                tokio::time::sleep(d).await;
                give_up_connection(control, ConnAction::Close).await
            }
            None => std::future::pending().await,
        };
    }
    if faults.has(&Fault::Reset) {
        stats.fault("reset");
        return give_up_connection(control, ConnAction::Reset).await;
    }
    if faults.has(&Fault::Blackhole) {
        stats.fault("blackhole");
        return give_up_connection(control, ConnAction::Blackhole).await;
    }
    let status = faults.find(|f| match f {
        Fault::Status(c) => StatusCode::from_u16(*c).ok(),
        _ => None,
    });
    let echo = faults
        .has(&Fault::EchoKey)
        .then(|| Echo::from_request(req.headers(), req.uri().query()))
        .flatten();
    let res = match status {
        None if faults.has(&Fault::ModerationBlocked) => {
            stats.fault("moderation-blocked");
            let request_id = ctx.shared.ids.next("req_");
            let e = crate::errors::media::content_policy(model.as_deref());
            e.reply(ctx.provider, &request_id)
                .with_headers(headers::for_error(
                    ctx.provider,
                    &request_id,
                    e.status,
                    None,
                ))
                .into_response()
        }
        Some(code) => {
            stats.fault(&format!("status={}", code.as_u16()));
            let retry_after = faults.find(|f| match f {
                Fault::RetryAfter(s) => Some(*s),
                _ => None,
            });
            if echo.is_some() {
                stats.fault("echo-key");
            }
            status_reply(&ctx, code, retry_after, echo.as_ref())
        }
        None => next.run(req).await,
    };
    transform::apply(ctx.provider, &faults, &mut rng, stats, echo.as_ref(), res).await
}

/// The provider's own error for `status`, with its headers (and `retry-after`); with `echo`,
/// one that repeats the request's key.
fn status_reply(
    ctx: &Ctx,
    status: StatusCode,
    retry_after: Option<u64>,
    echo: Option<&Echo>,
) -> Response {
    let request_id = ctx.shared.ids.next("req_");
    let mut body = ApiError::for_status(ctx.provider, status)
        .with_retry_after(retry_after)
        .body(ctx.provider, &request_id);
    if let Some(echo) = echo {
        echo.apply(
            ctx.provider,
            &mut body,
            matches!(status.as_u16(), 401 | 403),
        );
    }
    json_reply(ctx.provider, status, &body)
        .with_headers(headers::for_error(
            ctx.provider,
            &request_id,
            status,
            retry_after,
        ))
        .into_response()
}
