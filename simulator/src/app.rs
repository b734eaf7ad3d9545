//! The router: every provider under its prefix, the `/__sim` admin routes, JSON 404s.
//! Owns the URL layout; must never hold provider logic.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{Method, StatusCode, Uri};
use serde_json::json;

use crate::state::{Ctx, Shared};
use crate::{anthropic, openai, Provider};

/// The whole simulator as one router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut app = Router::new()
        .route("/__sim/stats", get(stats))
        .route("/__sim/stats/reset", post(reset_stats))
        .with_state(shared.clone());
    for provider in Provider::ALL {
        let ctx = Ctx {
            shared: shared.clone(),
            provider,
        };
        let routes = match provider {
            Provider::Anthropic => anthropic::router(ctx.clone()),
            Provider::OpenAi | Provider::Xai => openai::router(ctx.clone()),
        };
        let routes = routes.route_layer(middleware::from_fn_with_state(ctx, record));
        app = app.nest(provider.path_prefix(), routes);
    }
    app.fallback(not_found)
}

/// Counts the request under its provider and endpoint template.
async fn record(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str())
        .unwrap_or_else(|| req.uri().path());
    let endpoint = endpoint
        .strip_prefix(ctx.provider.path_prefix())
        .unwrap_or(endpoint)
        .to_owned();
    ctx.shared.stats.request(ctx.provider, &endpoint);
    next.run(req).await
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.stats.snapshot()).into_response()
}

async fn reset_stats(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.stats.reset();
    StatusCode::NO_CONTENT
}

async fn not_found(method: Method, uri: Uri) -> Response {
    let body = json!({"error": {"type": "not_found", "message": format!("no route for {method} {}", uri.path())}});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}
