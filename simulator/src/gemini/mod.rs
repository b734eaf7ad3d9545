//! The Gemini API under `/gemini`, in the versions the Google Gen AI SDK calls (`v1`, the
//! SDK's default, `v1beta`, `v1alpha`): `POST models/{model}:generateContent`,
//! `:streamGenerateContent` (`?alt=sse`: SSE; else a streamed JSON array), `:countTokens`,
//! `:embedContent`, `:batchEmbedContents`; `GET models` (paged) and `GET models/{model}`.
//! An `AIza` key in `x-goog-api-key` or `?key=`. Vertex AI (`vertex/`) shares the request,
//! answer and output modules.
//! Owns the Gemini API's routes; must never apply faults.

pub(crate) mod answer;
pub(crate) mod auth;
pub(crate) mod content;
pub(crate) mod embed;
pub(crate) mod fields;
pub(crate) mod generation;
pub(crate) mod models;
pub(crate) mod output;
pub(crate) mod path;
pub(crate) mod request;
pub(crate) mod safety;
pub(crate) mod serve;
pub(crate) mod tools;
pub(crate) mod veo;

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;

use self::path::Method;
use crate::errors::ApiError;
use crate::headers::respond;
use crate::http::reply::SimReply;
use crate::state::Ctx;

/// The Gemini API's routes, relative to `/gemini`.
pub(crate) fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/{version}/models", get(list))
        .route("/{version}/models/{model}", get(get_model).post(call))
        .route(
            "/{version}/models/{model}/operations/{operation}",
            get(veo::get_operation),
        )
        .route("/{version}/files/{file}", get(veo::download))
        .with_state(ctx)
}

async fn list(
    State(ctx): State<Ctx>,
    Path(version): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    read_catalogue(&ctx, &version, &headers, &uri, || models::list(uri.query()))
}

async fn get_model(
    State(ctx): State<Ctx>,
    Path((version, model)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    read_catalogue(&ctx, &version, &headers, &uri, || {
        models::get(&model, &version)
    })
}

/// A `GET` of the catalogue: the key, the version, then `read`.
fn read_catalogue(
    ctx: &Ctx,
    version: &str,
    headers: &HeaderMap,
    uri: &Uri,
    read: impl FnOnce() -> Result<Value, ApiError>,
) -> Response {
    let started = Instant::now();
    let result = auth::check(headers, uri.query())
        .and_then(|()| path::check_version(ctx.provider, version, uri.path()))
        .and_then(|()| read())
        .map(|body| SimReply::json_pretty(StatusCode::OK, &body));
    respond(ctx.provider, &ctx.shared.ids, started, result)
}

async fn call(
    State(ctx): State<Ctx>,
    Path((version, segment)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    extensions: http::Extensions,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    if let Some(model) = segment.strip_suffix(":predictLongRunning") {
        let result = path::check_version(ctx.provider, &version, uri.path())
            .and_then(|()| veo::create(&ctx, model, &headers, &uri, &body, &extensions));
        return respond(ctx.provider, &ctx.shared.ids, started, result);
    }
    let result = answer_call(&ctx, &version, &segment, &headers, &uri, &body);
    respond(ctx.provider, &ctx.shared.ids, started, result)
}

fn answer_call(
    ctx: &Ctx,
    version: &str,
    segment: &str,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Result<SimReply, ApiError> {
    path::check_version(ctx.provider, version, uri.path())?;
    let (model, method) = path::model_method(ctx.provider, segment, uri.path())?;
    auth::check(headers, uri.query())?;
    let spec = models::Spec::of(&model);
    if !ctx.provider.knows_model(&model) || !spec.serves(method) {
        return Err(models::not_served(&model, version, method));
    }
    let ok = |v: Value| SimReply::json_pretty(StatusCode::OK, &v);
    let query = uri.query();
    match method {
        Method::Generate => serve::generate(ctx, &model, false, query, body),
        Method::Stream => serve::generate(ctx, &model, true, query, body),
        Method::CountTokens => serve::count_tokens(ctx, &model, body),
        Method::Embed => embed::embed_content(spec, body).map(ok),
        Method::BatchEmbed => embed::batch_embed(&model, spec, body).map(ok),
        // Only Vertex AI parses `:predict`; the match is exhaustive over methods.
        Method::Predict => Err(models::not_served(&model, version, method)),
    }
}
