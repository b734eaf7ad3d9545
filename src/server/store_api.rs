//! The store's admin API: tokens, stored channels and usage, as plain handlers over a
//! [`StoreApi`] state (mounted behind the admin listener's auth by the server).
//!
//! Owns: the routes' shapes (JSON in and out, CSV exports), mapping `StoreError` to admin
//! statuses (400 invalid, 404 unknown, 409 conflict or config-file item, 503 database
//! unavailable), and refreshing the token snapshot after a token write.
//! Must never: return a token key after its creation or any channel key, or change an item
//! that comes from the config file (409).

use crate::limits::TokenTable;
use crate::store::usage::csv;
use crate::store::usage::query::{parse_time, Cursor, GroupBy, UsageFilter, UsageQuery, MAX_PAGE};
use crate::store::{ChannelPatch, ChannelSpec, Store, StoreError, TokenPatch, TokenSpec};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// What the store's admin handlers work on.
pub struct StoreApi {
    pub store: Store,
    /// Refreshed after every token write, so a new token works at once on this instance.
    pub tokens: Option<Arc<TokenTable>>,
    /// Channel names from the config file: read-only here.
    pub file_channels: HashSet<String>,
}

/// `/api/tokens…`, `/api/channels` (create) and `/api/channels/{name}` (read, change,
/// delete), `/api/usage` and `/api/usage/events`.
pub fn router<S: Clone + Send + Sync + 'static>(api: Arc<StoreApi>) -> Router<S> {
    Router::new()
        .route("/api/tokens", get(list_tokens).post(create_token))
        .route(
            "/api/tokens/{id}",
            get(get_token).patch(update_token).delete(revoke_token),
        )
        .route("/api/channels", axum::routing::post(create_channel))
        .route(
            "/api/channels/{name}",
            get(get_channel)
                .patch(update_channel)
                .delete(delete_channel),
        )
        .route("/api/usage", get(usage_summary))
        .route("/api/usage/events", get(usage_events))
        .with_state(api)
}

/// A store error as an admin answer.
pub struct ApiError(StoreError);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self.0 {
            StoreError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            StoreError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            StoreError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            StoreError::Database(_) | StoreError::Timeout(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
            }
            StoreError::NoSecretKey => (StatusCode::SERVICE_UNAVAILABLE, "secret_key_missing"),
            StoreError::Crypto(_)
            | StoreError::Migrate(_)
            | StoreError::SchemaNewer(_)
            | StoreError::Io { .. }
            | StoreError::Config(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store_error"),
        };
        let body =
            json!({"error": {"message": self.0.to_string(), "type": "admin_error", "code": code}});
        (status, Json(body)).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

impl StoreApi {
    async fn refresh_tokens(&self) {
        if let Some(t) = &self.tokens {
            if let Err(e) = t.reload().await {
                tracing::warn!(target: "sluice::store", error = %e, "token snapshot refresh failed");
            }
        }
    }

    fn writable_channel(&self, name: &str) -> Result<(), ApiError> {
        if self.file_channels.contains(name) {
            return Err(StoreError::Conflict(format!(
                "channel `{name}` comes from the config file: change it there"
            ))
            .into());
        }
        Ok(())
    }

    /// Enables or disables a stored channel (the server's enable/disable routes call this for
    /// channels that are not the file's).
    pub async fn set_channel_enabled(&self, name: &str, enabled: bool) -> ApiResult {
        self.writable_channel(name)?;
        let c = self.store.set_channel_enabled(name, enabled).await?;
        Ok(Json(c).into_response())
    }
}

#[derive(Deserialize)]
struct ListTokens {
    #[serde(default)]
    all: bool,
}

async fn list_tokens(State(api): State<Arc<StoreApi>>, Query(q): Query<ListTokens>) -> ApiResult {
    Ok(Json(api.store.list_tokens(q.all).await?).into_response())
}

async fn create_token(State(api): State<Arc<StoreApi>>, Json(spec): Json<TokenSpec>) -> ApiResult {
    let new = api.store.create_token(spec).await?;
    api.refresh_tokens().await;
    let mut body =
        serde_json::to_value(&new.token).map_err(|e| StoreError::Invalid(e.to_string()))?;
    // The one time the key is shown.
    body["key"] = json!(new.key.expose());
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn get_token(State(api): State<Arc<StoreApi>>, Path(id): Path<String>) -> ApiResult {
    Ok(Json(api.store.find_token(&id).await?).into_response())
}

async fn update_token(
    State(api): State<Arc<StoreApi>>,
    Path(id): Path<String>,
    Json(patch): Json<TokenPatch>,
) -> ApiResult {
    let id = api.store.find_token(&id).await?.id;
    let t = api.store.update_token(id, patch).await?;
    api.refresh_tokens().await;
    Ok(Json(t).into_response())
}

async fn revoke_token(State(api): State<Arc<StoreApi>>, Path(id): Path<String>) -> ApiResult {
    let id = api.store.find_token(&id).await?.id;
    let t = api.store.revoke_token(id).await?;
    api.refresh_tokens().await;
    Ok(Json(t).into_response())
}

async fn create_channel(
    State(api): State<Arc<StoreApi>>,
    Json(spec): Json<ChannelSpec>,
) -> ApiResult {
    api.writable_channel(spec.name.trim())?;
    let c = api.store.create_channel(spec).await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

async fn get_channel(State(api): State<Arc<StoreApi>>, Path(name): Path<String>) -> ApiResult {
    Ok(Json(api.store.get_channel(&name).await?).into_response())
}

async fn update_channel(
    State(api): State<Arc<StoreApi>>,
    Path(name): Path<String>,
    Json(patch): Json<ChannelPatch>,
) -> ApiResult {
    api.writable_channel(&name)?;
    Ok(Json(api.store.update_channel(&name, patch).await?).into_response())
}

async fn delete_channel(State(api): State<Arc<StoreApi>>, Path(name): Path<String>) -> ApiResult {
    api.writable_channel(&name)?;
    api.store.delete_channel(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `token` (id or name), `model`, `channel`, `from`, `to` (ms, YYYY-MM-DD or RFC 3339),
/// `group_by` (comma-separated: day, model, token, channel), `format` (json or csv),
/// `cursor` and `limit` (events).
#[derive(Deserialize)]
struct UsageParams {
    token: Option<String>,
    model: Option<String>,
    channel: Option<String>,
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
    format: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

impl UsageParams {
    async fn filter(&self, store: &Store) -> Result<UsageFilter, StoreError> {
        let token_id = match &self.token {
            Some(t) => Some(store.find_token(t).await?.id),
            None => None,
        };
        Ok(UsageFilter {
            token_id,
            model: self.model.clone(),
            channel: self.channel.clone(),
            from: self.from.as_deref().map(parse_time).transpose()?,
            to: self.to.as_deref().map(parse_time).transpose()?,
        })
    }

    fn csv(&self) -> Result<bool, StoreError> {
        match self.format.as_deref() {
            None | Some("json") => Ok(false),
            Some("csv") => Ok(true),
            Some(other) => Err(StoreError::Invalid(format!(
                "format `{other}`: json or csv"
            ))),
        }
    }
}

async fn token_names(store: &Store) -> Result<HashMap<i64, String>, StoreError> {
    Ok(store
        .list_tokens(true)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect())
}

fn csv_response(name: &str, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

async fn usage_summary(
    State(api): State<Arc<StoreApi>>,
    Query(p): Query<UsageParams>,
) -> ApiResult {
    let group_by = p
        .group_by
        .as_deref()
        .filter(|g| !g.trim().is_empty())
        .map(|g| {
            g.split(',')
                .map(GroupBy::parse)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    let query = UsageQuery {
        filter: p.filter(&api.store).await?,
        group_by,
    };
    let rows = api.store.usage_summary(&query).await?;
    if p.csv()? {
        let names = token_names(&api.store).await?;
        return Ok(csv_response(
            "usage.csv",
            Body::from(csv::summary(&rows, &names)),
        ));
    }
    Ok(Json(json!({"rows": rows})).into_response())
}

async fn usage_events(State(api): State<Arc<StoreApi>>, Query(p): Query<UsageParams>) -> ApiResult {
    let filter = p.filter(&api.store).await?;
    let cursor = p.cursor.as_deref().map(Cursor::decode).transpose()?;
    if p.csv()? {
        return Ok(csv_response(
            "usage-events.csv",
            events_csv(api, filter, cursor),
        ));
    }
    let limit = p.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let rows = api.store.usage_events(&filter, cursor, limit).await?;
    let next = (rows.len() == limit)
        .then(|| rows.last())
        .flatten()
        .map(|r| {
            Cursor {
                created_at: r.created_at,
                usage_id: r.usage_id,
            }
            .encode()
        });
    Ok(Json(json!({"rows": rows, "next_cursor": next})).into_response())
}

/// Every matching ledger row as CSV, read a page at a time while the client reads (memory:
/// one page).
fn events_csv(api: Arc<StoreApi>, filter: UsageFilter, cursor: Option<Cursor>) -> Body {
    struct Page {
        api: Arc<StoreApi>,
        filter: UsageFilter,
        cursor: Option<Cursor>,
        names: Option<HashMap<i64, String>>,
        done: bool,
    }
    let start = Page {
        api,
        filter,
        cursor,
        names: None,
        done: false,
    };
    let stream = futures_util::stream::unfold(start, |mut s| async move {
        if s.done {
            return None;
        }
        let names = match s.names.take() {
            Some(n) => n,
            None => match token_names(&s.api.store).await {
                Ok(n) => {
                    s.names = Some(n);
                    return Some((Ok(bytes::Bytes::from(csv::events_header())), s));
                }
                Err(e) => {
                    return Some((
                        Err(std::io::Error::other(e.to_string())),
                        Page { done: true, ..s },
                    ))
                }
            },
        };
        let page = s
            .api
            .store
            .usage_events(&s.filter, s.cursor, MAX_PAGE)
            .await;
        match page {
            Ok(rows) if rows.is_empty() => None,
            Ok(rows) => {
                s.done = rows.len() < MAX_PAGE;
                s.cursor = rows.last().map(|r| Cursor {
                    created_at: r.created_at,
                    usage_id: r.usage_id,
                });
                let chunk = bytes::Bytes::from(csv::events(&rows, &names));
                s.names = Some(names);
                Some((Ok(chunk), s))
            }
            // A failure mid-export cuts the body: the client sees an incomplete download.
            Err(e) => Some((
                Err(std::io::Error::other(e.to_string())),
                Page { done: true, ..s },
            )),
        }
    });
    Body::from_stream(stream)
}
