//! The router: every provider under its prefix and every OpenAI-compatible dialect under
//! `/compat/{dialect}` (all behind the fault layer), the `/__sim` admin routes, JSON 404s.
//! Owns the URL layout; must never hold provider logic.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use http::{Method, StatusCode, Uri};
use serde_json::json;

use crate::faults::layer::layer;
use crate::faults::mix::Mix;
use crate::faults::scenario::Scenario;
use crate::state::{Ctx, Shared};
use crate::{anthropic, gemini, openai, vertex, video, Dialect, Provider};

/// The whole simulator as one router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut app = Router::new()
        .route("/__sim/stats", get(stats))
        .route("/__sim/stats/reset", post(reset_stats))
        .route("/__sim/scenario", put(put_scenario).delete(delete_scenario))
        .route("/__sim/mix", put(put_mix).delete(delete_mix))
        .with_state(shared.clone());
    for provider in Provider::ALL {
        let ctx = Ctx {
            shared: shared.clone(),
            provider,
        };
        let routes = match provider {
            Provider::Anthropic => anthropic::router(ctx.clone()),
            Provider::OpenAi => openai::router(ctx.clone(), &openai::dialects::OPENAI)
                .merge(video::sora::router(ctx.clone())),
            Provider::Xai => openai::router(ctx.clone(), &openai::dialects::OPENAI),
            Provider::Gemini => gemini::router(ctx.clone()),
            Provider::Vertex => vertex::router(ctx.clone()),
            Provider::GoogleOAuth => vertex::oauth::router(ctx.clone()),
            Provider::Kling
            | Provider::Runway
            | Provider::Luma
            | Provider::Zhipu
            | Provider::Dashscope
            | Provider::Viggle => video::router(ctx.clone()),
        };
        let routes = routes.route_layer(middleware::from_fn_with_state(ctx, layer));
        app = app.nest(provider.path_prefix(), routes);
    }
    // A dialect answers as OpenAI does (errors, headers, faults) in its own style.
    for dialect in Dialect::ALL {
        let ctx = Ctx {
            shared: shared.clone(),
            provider: Provider::OpenAi,
        };
        let routes = openai::router(ctx.clone(), dialect.style())
            .route_layer(middleware::from_fn_with_state(ctx, layer));
        app = app.nest(&dialect.path_prefix(), routes);
    }
    app.fallback(not_found)
        .method_not_allowed_fallback(not_allowed)
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.stats.snapshot()).into_response()
}

async fn reset_stats(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.stats.reset();
    StatusCode::NO_CONTENT
}

fn bad_config(message: String) -> Response {
    let body = json!({"error": {"type": "sim_config_error", "message": message}});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

async fn put_scenario(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    match Scenario::parse(&text) {
        Ok(s) => {
            shared.faults.set_scenario(Some(s));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_config(e.to_string()),
    }
}

async fn delete_scenario(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.faults.set_scenario(None);
    StatusCode::NO_CONTENT
}

async fn put_mix(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match Mix::parse(&String::from_utf8_lossy(&body)) {
        Ok(m) => {
            shared.faults.set_mix(Some(m));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_config(e.to_string()),
    }
}

async fn delete_mix(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.faults.set_mix(None);
    StatusCode::NO_CONTENT
}

async fn not_found(method: Method, uri: Uri) -> Response {
    let body = json!({"error": {"type": "not_found", "message": format!("no route for {method} {}", uri.path())}});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

async fn not_allowed(method: Method, uri: Uri) -> Response {
    let body = json!({"error": {"type": "method_not_allowed", "message": format!("{method} is not allowed on {}", uri.path())}});
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}
