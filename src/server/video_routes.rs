//! The video routes: OpenAI's video API, the one-api family's `/v1/video/generations` (and the
//! fork's `/result?taskid=`), native Kling and Runway routes, and the callbacks upstreams send.
//!
//! Owns: the paths, and for each route the thin part: shed when full, authenticate, read the
//! body bounded (`video.max_body`) and timed, take an in-flight slot, call `tasks::front`, and
//! answer in the route's shape. A create is recorded (and billed) as a request of the `videos`
//! family; polls, lists and downloads are recorded in the access log only.
//! Must never: hold task logic (the front does), or answer a callback whose signature does not
//! verify.

use super::handlers::{read_body_within, request_id, Peer};
use super::held;
use crate::error::RelayError;
use crate::monitor::TimeoutKind;
use crate::relay::{self, Caller, Record};
use crate::state::AppState;
use crate::store::now_ms;
use crate::tasks::front::create::{self, Making};
use crate::tasks::front::{content, manage, native, object, request, Ctx};
use crate::tasks::Front;
use crate::wire::{Endpoint, WireFormat};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Adds the video routes to the public listener's router.
pub(super) fn routes(r: Router<Arc<AppState>>) -> Router<Arc<AppState>> {
    r.route("/v1/videos", post(create_openai).get(list))
        .route("/v1/videos/{id}", get(retrieve).delete(delete))
        .route("/v1/videos/{id}/remix", post(remix))
        .route("/v1/videos/{id}/content", get(content_of))
        .route("/v1/video/generations", post(create_unified))
        .route("/v1/video/generations/result", get(fork_result))
        .route("/v1/video/generations/{task_id}", get(unified_status))
        .route(
            &format!("{}/{{id}}/{{sig}}", crate::tasks::callback::PATH_PREFIX),
            post(callback),
        )
        .route("/kling/v1/videos/{action}", post(native_create_kling))
        .route("/kling/v1/videos/{action}/{id}", get(native_poll_kling))
        .route("/runway/v1/{action}", post(native_create_runway))
        .route(
            "/runway/v1/tasks/{id}",
            get(native_poll_runway).delete(native_delete_runway),
        )
}

fn fail(record: &mut Record, e: RelayError) -> Response {
    record.fail(&e);
    e.into_response_for(WireFormat::OpenAi)
}

/// Authenticates a request that is not a create (named in the access log, not metered).
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    record: &mut Record,
) -> Result<Caller, RelayError> {
    state.overload.has_room()?;
    let c = relay::authenticate(state, headers).await?;
    record.token = Some(c.name().to_owned());
    Ok(c)
}

/// Authenticates and reads a create's body; metered (its charge is the create's record).
async fn begin_create(
    state: &AppState,
    peer: Peer,
    headers: &HeaderMap,
    body: Body,
    record: &mut Record,
) -> Result<(Caller, Bytes, crate::overload::Permit), RelayError> {
    state.overload.has_room()?;
    let c = relay::authenticate(state, headers).await?;
    relay::identify(state, &c, peer.map(|Extension(p)| p.0.ip()), record);
    let bytes = read_body_within(body, state.config.video.max_body, &state.config)
        .await
        .inspect_err(|e| {
            if matches!(e, RelayError::ClientTimeout(_)) {
                state.monitor.ledger().timeout(TimeoutKind::ClientBody);
            }
        })?;
    let permit = state.overload.admit_request()?;
    Ok((c, bytes, permit))
}

fn new_record(state: &AppState, headers: &HeaderMap) -> Record {
    Record::new(
        request_id(headers),
        Endpoint::Videos,
        state.monitor.ledger(),
    )
}

fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (status, Json(v)).into_response()
}

async fn create_openai(
    State(s): State<Arc<AppState>>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut record = new_record(&s, &headers);
    let run = async {
        let (c, bytes, permit) = begin_create(&s, peer, &headers, body, &mut record).await?;
        let ct = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let create = if ct.starts_with("multipart/form-data") {
            let boundary = multer::parse_boundary(ct)
                .map_err(|e| RelayError::BadRequest(format!("Invalid multipart body: {e}")))?;
            request::openai_multipart(bytes, &boundary).await?
        } else {
            request::openai_json(&bytes)?
        };
        let cx = Ctx::new(&s);
        let task = create::create(&cx, &c, &mut record, Front::Openai, Making::New(create)).await?;
        Ok::<_, RelayError>((task, permit))
    };
    match run.await {
        Ok((task, permit)) => held::until_sent(json(StatusCode::OK, object::video(&task)), permit),
        Err(e) => fail(&mut record, e),
    }
}

async fn create_unified(
    State(s): State<Arc<AppState>>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut record = new_record(&s, &headers);
    let run = async {
        let (c, bytes, permit) = begin_create(&s, peer, &headers, body, &mut record).await?;
        let create = request::unified_json(&bytes)?;
        let cx = Ctx::new(&s);
        let task =
            create::create(&cx, &c, &mut record, Front::Unified, Making::New(create)).await?;
        Ok::<_, RelayError>((task, permit))
    };
    match run.await {
        Ok((task, permit)) => held::until_sent(json(StatusCode::OK, object::video(&task)), permit),
        Err(e) => fail(&mut record, e),
    }
}

async fn remix(
    State(s): State<Arc<AppState>>,
    peer: Peer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut record = new_record(&s, &headers);
    let run = async {
        let (c, bytes, permit) = begin_create(&s, peer, &headers, body, &mut record).await?;
        let prompt = request::remix_prompt(&bytes)?;
        let cx = Ctx::new(&s);
        let source = cx.owned(&c, &id).await?;
        if source.state != crate::tasks::TaskState::Completed {
            return Err(RelayError::BadRequest(format!(
                "Video '{id}' cannot be remixed: its status is {}.",
                source.state.as_str()
            )));
        }
        let task = create::create(
            &cx,
            &c,
            &mut record,
            Front::Openai,
            Making::Remix {
                source: &source,
                prompt,
            },
        )
        .await?;
        Ok::<_, RelayError>((task, permit))
    };
    match run.await {
        Ok((task, permit)) => held::until_sent(json(StatusCode::OK, object::video(&task)), permit),
        Err(e) => fail(&mut record, e),
    }
}

#[derive(Deserialize)]
struct RetrieveQuery {
    refresh: Option<bool>,
}

async fn retrieve(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<RetrieveQuery>,
    headers: HeaderMap,
) -> Response {
    let mut record = new_record(&s, &headers);
    let run = async {
        let c = caller(&s, &headers, &mut record).await?;
        let cx = Ctx::new(&s);
        let task = cx.owned(&c, &id).await?;
        let task = if q.refresh == Some(true) {
            crate::tasks::front::refresh::refresh(&cx, task).await
        } else {
            task
        };
        Ok::<_, RelayError>(task)
    };
    match run.await {
        Ok(task) => {
            record.finish_ok();
            let mut resp = json(StatusCode::OK, object::video(&task));
            if !task.state.is_terminal() {
                let wait = object::poll_after_ms(&task, now_ms());
                resp.headers_mut()
                    .insert("openai-poll-after-ms", HeaderValue::from(wait));
            }
            resp
        }
        Err(e) => fail(&mut record, e),
    }
}

async fn list(
    State(s): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut record = new_record(&s, &headers);
    let run = async {
        let c = caller(&s, &headers, &mut record).await?;
        let cx = Ctx::new(&s);
        manage::list(
            &cx,
            &c,
            q.get("after").map(String::as_str),
            q.get("limit").map(String::as_str),
            q.get("order").map(String::as_str),
        )
        .await
    };
    match run.await {
        Ok(page) => {
            record.finish_ok();
            json(StatusCode::OK, object::list(&page.tasks, page.has_more))
        }
        Err(e) => fail(&mut record, e),
    }
}

async fn delete(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut record = new_record(&s, &headers);
    let run = async {
        let c = caller(&s, &headers, &mut record).await?;
        manage::delete(&Ctx::new(&s), &c, &id).await
    };
    match run.await {
        Ok(()) => {
            record.finish_ok();
            json(StatusCode::OK, object::deleted(&id))
        }
        Err(e) => fail(&mut record, e),
    }
}

async fn content_of(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut record = new_record(&s, &headers);
    let run = async {
        let c = caller(&s, &headers, &mut record).await?;
        let cx = Ctx::new(&s);
        let task = cx.owned(&c, &id).await?;
        let permit = s.overload.admit_request()?;
        Ok::<_, RelayError>((task, permit))
    };
    let (task, permit) = match run.await {
        Ok(t) => t,
        Err(e) => return fail(&mut record, e),
    };
    // The record goes with the body: it is finished when the last byte is sent.
    let variant = q.get("variant").map(String::as_str);
    let cx = Ctx::new(&s);
    let mut record = Some(record);
    match content::content(&cx, &task, variant, &headers, &mut record).await {
        Ok(resp) => held::until_sent(resp, permit),
        Err(e) => match record.as_mut() {
            Some(r) => fail(r, e),
            None => e.into_response_for(WireFormat::OpenAi),
        },
    }
}

async fn unified_status(
    State(s): State<Arc<AppState>>,
    Path(task_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut record = new_record(&s, &headers);
    let run = async {
        let c = caller(&s, &headers, &mut record).await?;
        Ctx::new(&s).owned(&c, &task_id).await
    };
    let public = s.config.video.callback_base_url.as_deref();
    match run.await {
        Ok(task) => {
            record.finish_ok();
            json(StatusCode::OK, object::unified(&task, public))
        }
        Err(RelayError::NotFound(_)) => {
            record.status = 400;
            json(StatusCode::BAD_REQUEST, object::unified_missing())
        }
        Err(e) => fail(&mut record, e),
    }
}

async fn fork_result(
    State(s): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut record = new_record(&s, &headers);
    let run = async {
        let c = caller(&s, &headers, &mut record).await?;
        let id = q
            .get("taskid")
            .or_else(|| q.get("task_id"))
            .ok_or_else(|| RelayError::BadRequest("taskid is required".to_owned()))?;
        Ctx::new(&s).owned(&c, id).await
    };
    let public = s.config.video.callback_base_url.as_deref();
    match run.await {
        Ok(task) => {
            record.finish_ok();
            json(StatusCode::OK, object::fork_result(&task, public))
        }
        Err(e) => {
            record.fail(&e);
            // The fork's error shape: `{"error": "<text>"}`.
            json(e.status(), serde_json::json!({"error": e.to_string()}))
        }
    }
}

async fn callback(
    State(s): State<Arc<AppState>>,
    Path((id, sig)): Path<(String, String)>,
    body: Body,
) -> Response {
    let cx = Ctx::new(&s);
    if !cx.callbacks.verify(&id, &sig) {
        return RelayError::NotFound("unknown callback".to_owned())
            .into_response_for(WireFormat::OpenAi);
    }
    let bytes = match read_body_within(body, 1024 * 1024, &s.config).await {
        Ok(b) => b,
        Err(e) => return e.into_response_for(WireFormat::OpenAi),
    };
    match crate::tasks::front::refresh::callback(&cx, &id, &bytes).await {
        Ok(()) => json(StatusCode::OK, serde_json::json!({"ok": true})),
        Err(e) => e.into_response_for(WireFormat::OpenAi),
    }
}

async fn native_create_kling(
    State(s): State<Arc<AppState>>,
    peer: Peer,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    native_create(
        s,
        peer,
        crate::config::ProviderKind::Kling,
        format!("videos/{action}"),
        headers,
        body,
    )
    .await
}

async fn native_create_runway(
    State(s): State<Arc<AppState>>,
    peer: Peer,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    native_create(
        s,
        peer,
        crate::config::ProviderKind::Runway,
        action,
        headers,
        body,
    )
    .await
}

async fn native_create(
    s: Arc<AppState>,
    peer: Peer,
    kind: crate::config::ProviderKind,
    action: String,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut record = new_record(&s, &headers);
    let run = async {
        let (c, bytes, permit) = begin_create(&s, peer, &headers, body, &mut record).await?;
        let cx = Ctx::new(&s);
        let answer = native::create(&cx, &c, &mut record, kind, &action, &bytes).await?;
        Ok::<_, RelayError>((answer, permit))
    };
    match run.await {
        Ok((answer, permit)) => held::until_sent(json(StatusCode::OK, answer), permit),
        Err(e) => native::error(kind, &mut record, e),
    }
}

async fn native_poll_kling(
    State(s): State<Arc<AppState>>,
    Path((_action, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    native_poll(s, crate::config::ProviderKind::Kling, id, headers).await
}

async fn native_poll_runway(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    native_poll(s, crate::config::ProviderKind::Runway, id, headers).await
}

async fn native_poll(
    s: Arc<AppState>,
    kind: crate::config::ProviderKind,
    id: String,
    headers: HeaderMap,
) -> Response {
    let mut record = new_record(&s, &headers);
    let run = async {
        let c = caller(&s, &headers, &mut record).await?;
        let cx = Ctx::new(&s);
        let task = cx.owned(&c, &id).await?;
        native::polled(&cx, kind, &task)
    };
    match run.await {
        Ok(answer) => {
            record.finish_ok();
            json(StatusCode::OK, answer)
        }
        Err(e) => native::error(kind, &mut record, e),
    }
}

async fn native_delete_runway(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut record = new_record(&s, &headers);
    let run = async {
        let c = caller(&s, &headers, &mut record).await?;
        manage::delete(&Ctx::new(&s), &c, &id).await
    };
    match run.await {
        Ok(()) => {
            record.finish_ok();
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => native::error(crate::config::ProviderKind::Runway, &mut record, e),
    }
}
