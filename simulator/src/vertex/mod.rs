//! Vertex AI under `/vertex`, Gemini models, in the versions the Google Gen AI SDK calls
//! (`v1beta1`, its default, and `v1`): `POST /{version}/projects/{p}/locations/{l}/
//! publishers/google/models/{model}:generateContent`, `:streamGenerateContent`,
//! `:countTokens`, `:predict` (text-embedding models, and Imagen in `imagen.rs`), `:embedContent` and
//! `:batchEmbedContents` (Gemini embedding models); `GET /{version}/publishers/google/models`
//! and `.../models/{model}`. Auth: `Authorization: Bearer` with an access token from the
//! simulated OAuth token endpoint (`oauth.rs`, served under `/google-oauth`). Bodies are the
//! Gemini API's (`gemini/`), with Vertex's `createTime` and `trafficType`.
//! Owns Vertex AI's routes and path checks; must never apply faults.

pub(crate) mod account;
mod auth;
mod embed;
mod imagen;
mod models;
pub(crate) mod oauth;
pub(crate) mod tokens;
mod veo;

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;

use crate::errors::{ApiError, ErrorKind};
use crate::gemini::models::{Output, Spec};
use crate::gemini::path::{self, Method};
use crate::gemini::serve;
use crate::headers::respond;
use crate::http::reply::SimReply;
use crate::state::Ctx;

/// Vertex AI's routes, relative to `/vertex`.
pub(crate) fn router(ctx: Ctx) -> Router {
    Router::new()
        .route(
            "/{version}/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}",
            post(call),
        )
        .route("/{version}/publishers/{publisher}/models", get(list))
        .route("/{version}/publishers/{publisher}/models/{model}", get(get_model))
        .with_state(ctx)
}

/// The path of one model call.
#[derive(serde::Deserialize)]
struct CallPath {
    version: String,
    project: String,
    location: String,
    publisher: String,
    model: String,
}

fn ok(body: Value) -> SimReply {
    SimReply::json_pretty(StatusCode::OK, &body)
}

/// Vertex AI's 404 for a model it does not serve (its real wording).
fn not_found(p: &CallPath, model: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorKind::NotFound,
        format!(
            "Publisher Model `projects/{}/locations/{}/publishers/{}/models/{model}` was not found or your project does not have access to it. Please ensure you are using a valid model version. For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions",
            p.project, p.location, p.publisher
        ),
    )
}

/// Checks the version and that the publisher is Google (the only one simulated).
fn check_path(ctx: &Ctx, version: &str, publisher: &str, uri: &Uri) -> Result<(), ApiError> {
    path::check_version(ctx.provider, version, uri.path())?;
    if publisher == "google" {
        Ok(())
    } else {
        Err(path::no_such_path(uri.path()))
    }
}

async fn call(
    State(ctx): State<Ctx>,
    Path(p): Path<CallPath>,
    headers: HeaderMap,
    uri: Uri,
    extensions: http::Extensions,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    if let Some((model, method)) = veo::VeoMethod::split(&p.model) {
        let result = check_path(&ctx, &p.version, &p.publisher, &uri).and_then(|()| {
            veo::call(
                &ctx,
                &p.project,
                &p.location,
                model,
                method,
                &headers,
                &body,
                &extensions,
            )
        });
        return respond(ctx.provider, &ctx.shared.ids, started, result);
    }
    let result = answer_call(&ctx, &p, &headers, &uri, &body);
    respond(ctx.provider, &ctx.shared.ids, started, result)
}

fn answer_call(
    ctx: &Ctx,
    p: &CallPath,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Result<SimReply, ApiError> {
    check_path(ctx, &p.version, &p.publisher, uri)?;
    let (model, method) = path::model_method(ctx.provider, &p.model, uri.path())?;
    auth::check(headers, &ctx.shared.tokens, Instant::now())?;
    let spec = Spec::of(&model);
    if !ctx.provider.knows_model(&model) || !spec.serves(method) {
        return Err(not_found(p, &model));
    }
    match method {
        Method::Generate => serve::generate(ctx, &model, false, uri.query(), body),
        Method::Stream => serve::generate(ctx, &model, true, uri.query(), body),
        Method::CountTokens => serve::count_tokens(ctx, &model, body),
        Method::Predict if spec.output == Output::Imagen => imagen::predict(body).map(ok),
        Method::Predict => embed::predict(spec, body).map(ok),
        Method::Embed => embed::embed_content(spec, body).map(ok),
        Method::BatchEmbed => embed::batch_embed(spec, body).map(ok),
    }
}

async fn list(
    State(ctx): State<Ctx>,
    Path((version, publisher)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    read_catalogue(&ctx, &version, &publisher, &headers, &uri, || {
        models::list(uri.query())
    })
}

async fn get_model(
    State(ctx): State<Ctx>,
    Path((version, publisher, model)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    read_catalogue(&ctx, &version, &publisher, &headers, &uri, || {
        models::get(&model)
    })
}

/// A `GET` of the publisher models: the path, the token, then `read`.
fn read_catalogue(
    ctx: &Ctx,
    version: &str,
    publisher: &str,
    headers: &HeaderMap,
    uri: &Uri,
    read: impl FnOnce() -> Result<Value, ApiError>,
) -> Response {
    let started = Instant::now();
    let result = check_path(ctx, version, publisher, uri)
        .and_then(|()| auth::check(headers, &ctx.shared.tokens, Instant::now()))
        .and_then(|()| read())
        .map(ok);
    respond(ctx.provider, &ctx.shared.ids, started, result)
}
