//! xAI's `POST /v1/images/generations`: `aspect_ratio` and `resolution` instead of `size`
//! (which is refused), `quality` low|medium|high, `url` or `b64_json` items with a
//! `mime_type`.
//! Owns xAI's image rules; must never format OpenAI answers.

use base64::Engine;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::image_out::files_url;
use crate::errors::{ApiError, ErrorKind};
use crate::gen::ids::unix_now;
use crate::gen::image::png;
use crate::gen::words::hash;
use crate::http::reply::SimReply;
use crate::openai::{common, Api};

const RATIOS: [&str; 14] = [
    "1:1", "3:4", "4:3", "9:16", "16:9", "2:3", "3:2", "9:19.5", "19.5:9", "9:20", "20:9", "1:2",
    "2:1", "auto",
];

#[derive(Deserialize)]
struct XaiImageRequest {
    model: Option<String>,
    prompt: Option<String>,
    n: Option<u64>,
    response_format: Option<String>,
    aspect_ratio: Option<String>,
    size: Option<Value>,
    quality: Option<String>,
}

/// The pixel size for an aspect ratio, longest side 32.
fn dims(ratio: &str) -> (u32, u32) {
    let parsed = ratio
        .split_once(':')
        .and_then(|(w, h)| Some((w.parse::<f64>().ok()?, h.parse::<f64>().ok()?)))
        .filter(|(w, h)| *w > 0.0 && *h > 0.0);
    match parsed {
        Some((w, h)) if w >= h => (32, ((32.0 * h / w) as u32).max(1)),
        Some((w, h)) => (((32.0 * w / h) as u32).max(1), 32),
        None => (32, 32),
    }
}

pub(crate) fn answer(
    api: &Api,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
) -> Result<SimReply, ApiError> {
    common::check_auth(api.ctx.provider, headers)?;
    let req: XaiImageRequest = common::parse(body)?;
    let model = api.model(req.model)?;
    if req.size.is_some() {
        return Err(ApiError::invalid("Argument not supported: size"));
    }
    let prompt = req
        .prompt
        .filter(|p| !p.is_empty())
        .ok_or_else(|| common::missing("prompt"))?;
    let n = req.n.unwrap_or(1);
    if !(1..=10).contains(&n) {
        return Err(ApiError::invalid("n must be between 1 and 10"));
    }
    if let Some(q) = req.quality.as_deref() {
        if !["low", "medium", "high"].contains(&q) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorKind::InvalidRequest,
                format!("Failed to deserialize the JSON body into the target type: quality: unknown variant `{q}`, expected one of `low`, `medium`, `high`"),
            ));
        }
    }
    let ratio = req.aspect_ratio.unwrap_or_else(|| "1:1".to_owned());
    if !RATIOS.contains(&ratio.as_str()) {
        return Err(ApiError::invalid(format!("Invalid aspect_ratio: {ratio}")));
    }
    let b64 = match req.response_format.as_deref() {
        None | Some("url") => false,
        Some("b64_json") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Invalid response_format: {other}"
            )))
        }
    };
    let (w, h) = dims(&ratio);
    let files = files_url(headers, path);
    let seed = hash(prompt.as_bytes());
    let data: Vec<Value> = (0..n)
        .map(|i| {
            let seed = seed ^ (i + 1).wrapping_mul(0x9e37_79b9);
            // xAI answers JPEG; the simulator serves PNG and says so in `mime_type`.
            let mut item = if b64 {
                json!({"b64_json": base64::engine::general_purpose::STANDARD.encode(png(seed, w, h))})
            } else {
                json!({"url": format!("{files}/img-{seed:016x}-{w}x{h}.png")})
            };
            item["revised_prompt"] = json!(prompt);
            item["mime_type"] = json!("image/png");
            item
        })
        .collect();
    let body = json!({"created": unix_now(), "model": model, "data": data});
    Ok(SimReply::json(StatusCode::OK, &body))
}
