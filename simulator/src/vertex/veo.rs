//! Veo on Vertex AI: `POST .../publishers/google/models/{veo}:predictLongRunning` (the
//! Gemini API's body, plus `parameters.storageUri`) → `{"name": "projects/{p}/locations/
//! {l}/publishers/google/models/{veo}/operations/{op}"}`; `POST .../models/{veo}:
//! fetchPredictOperation` `{"operationName": name}` → `{name, done}`, when done `response:
//! {"@type": ...GenerateVideoResponse, raiMediaFilteredCount, videos: [{bytesBase64Encoded,
//! mimeType}]}` (`gcsUri` `{storageUri}/{op}/sample_0.mp4` instead of bytes when
//! `storageUri` was set; GCS itself is not simulated). A failed task is `done: true` with no
//! videos and `raiMediaFilteredCount: 1`. Bearer access token, as for the rest of Vertex AI.
//! Owns Veo's Vertex shapes; must never apply request-level faults.

use base64::Engine as _;
use http::{Extensions, HeaderMap, StatusCode};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::auth;
use crate::errors::{ApiError, ErrorKind};
use crate::gemini::veo::{create_task, filtered_reasons, is_veo};
use crate::http::reply::SimReply;
use crate::state::Ctx;
use crate::video::common;
use crate::video::task::{Phase, Task};

const RESPONSE_TYPE: &str =
    "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse";

/// The Veo methods on a Vertex model path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VeoMethod {
    Create,
    Fetch,
}

impl VeoMethod {
    /// `{model}:predictLongRunning` or `{model}:fetchPredictOperation`, split.
    pub(crate) fn split(segment: &str) -> Option<(&str, VeoMethod)> {
        let (model, method) = segment.rsplit_once(':')?;
        let method = match method {
            "predictLongRunning" => VeoMethod::Create,
            "fetchPredictOperation" => VeoMethod::Fetch,
            _ => return None,
        };
        Some((model, method))
    }
}

fn pretty(v: &Value) -> SimReply {
    SimReply::json_pretty(StatusCode::OK, v)
}

fn model_base(project: &str, location: &str, model: &str) -> String {
    format!("projects/{project}/locations/{location}/publishers/google/models/{model}")
}

fn operation(ctx: &Ctx, name: &str, id: &str, task: &Task) -> Value {
    let videos = match task.phase(Instant::now()) {
        Phase::Queued | Phase::Running { .. } => return json!({"name": name, "done": false}),
        Phase::Succeeded => {
            common::downloaded(ctx);
            match task.origin.as_deref() {
                Some(storage) => json!([{"gcsUri": format!("{}/{id}/sample_0.mp4",
                    storage.trim_end_matches('/')), "mimeType": "video/mp4"}]),
                None => {
                    let bytes = crate::video::video_bytes(task);
                    json!([{"bytesBase64Encoded":
                        base64::engine::general_purpose::STANDARD.encode(&bytes),
                        "mimeType": "video/mp4"}])
                }
            }
        }
        Phase::Failed | Phase::Cancelled => {
            return json!({"name": name, "done": true, "response": {"@type": RESPONSE_TYPE,
                "raiMediaFilteredCount": 1, "raiMediaFilteredReasons": filtered_reasons()}})
        }
    };
    json!({"name": name, "done": true, "response": {"@type": RESPONSE_TYPE,
        "raiMediaFilteredCount": 0, "videos": videos}})
}

/// Answers a Veo method on `projects/{project}/locations/{location}/.../models/{model}`.
#[expect(
    clippy::too_many_arguments,
    reason = "the path's parts and the request's"
)]
pub(crate) fn call(
    ctx: &Ctx,
    project: &str,
    location: &str,
    model: &str,
    method: VeoMethod,
    headers: &HeaderMap,
    body: &[u8],
    extensions: &Extensions,
) -> Result<SimReply, ApiError> {
    auth::check(headers, &ctx.shared.tokens, std::time::Instant::now())?;
    let base = model_base(project, location, model);
    if !is_veo(model) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            format!("Publisher Model `{base}` was not found or your project does not have access to it."),
        ));
    }
    match method {
        VeoMethod::Create => {
            let (id, _) = create_task(ctx, model, body, extensions)?;
            Ok(pretty(&json!({"name": format!("{base}/operations/{id}")})))
        }
        VeoMethod::Fetch => {
            let v: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::invalid(format!("Invalid JSON payload received. {e}")))?;
            let name = v
                .get("operationName")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::invalid("* operationName: field is required"))?;
            let id = name
                .strip_prefix(&format!("{base}/operations/"))
                .ok_or_else(|| ApiError::invalid(format!("Invalid operation name {name}.")))?;
            let task = common::poll(ctx, id).ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    ErrorKind::NotFound,
                    format!("Operation {name} not found."),
                )
            })?;
            Ok(common::maybe_malformed(
                &task,
                pretty(&operation(ctx, name, id, &task)),
            ))
        }
    }
}
