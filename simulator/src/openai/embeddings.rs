//! `POST /v1/embeddings`: deterministic unit vectors, as floats or base64 float32.
//! Owns the embedding shapes; must never depend on anything but the input text.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{common, Api};
use crate::errors::ApiError;
use crate::gen::text;
use crate::headers::respond;
use crate::http::reply::SimReply;

/// Largest vector the simulator builds.
const MAX_DIMENSIONS: u64 = 8192;

#[derive(Deserialize)]
struct EmbeddingRequest {
    model: Option<String>,
    input: Option<Value>,
    encoding_format: Option<String>,
    dimensions: Option<u64>,
}

pub(crate) async fn handle(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let result = answer(&api, &headers, &body);
    respond(api.ctx.provider, &api.ctx.shared.ids, started, result)
}

/// Each input as (text to hash, tokens).
fn inputs(v: &Value) -> Vec<(String, u64)> {
    let one = |v: &Value| match v {
        Value::Array(tokens) => (v.to_string(), tokens.len() as u64),
        other => {
            let t = text::of(other);
            let n = text::words(&t).max(1);
            (t, n)
        }
    };
    match v {
        Value::Array(items) if items.iter().all(Value::is_number) => vec![one(v)],
        Value::Array(items) => items.iter().map(one).collect(),
        other => vec![one(other)],
    }
}

fn answer(api: &Api, headers: &HeaderMap, body: &[u8]) -> Result<SimReply, ApiError> {
    common::check_auth(api.ctx.provider, headers)?;
    let req: EmbeddingRequest = common::parse(body)?;
    let model = api.model(req.model)?;
    let input = req.input.ok_or_else(|| common::missing("input"))?;
    let items = inputs(&input);
    if items.is_empty() {
        return Err(ApiError::invalid("'input' : input must not be empty"));
    }
    let dims = match req.dimensions {
        Some(d @ 1..=MAX_DIMENSIONS) => d,
        Some(_) => return Err(ApiError::invalid("Invalid 'dimensions'.")),
        None if model.contains("3-large") => 3072,
        None => 1536,
    };
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Invalid 'encoding_format': '{other}'. Expected 'float' or 'base64'."
            )))
        }
    };
    let mut tokens = 0;
    let data: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, (text, n))| {
            tokens += n;
            let v = crate::gen::vectors::unit(text, dims);
            let embedding = if base64 {
                Value::from(encode_f32(&v))
            } else {
                Value::from(v.iter().map(|x| f64::from(*x)).collect::<Vec<_>>())
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let body = json!({"object": "list", "data": data, "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}});
    Ok(api.style.reply(StatusCode::OK, &body))
}

/// Little-endian float32, base64 (standard alphabet, padded) as the OpenAI SDK decodes it.
pub(crate) fn encode_f32(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64(&bytes)
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_known() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
        assert_eq!(encode_f32(&[1.0]), "AACAPw==");
    }

    #[test]
    fn unit_vectors() {
        let v = crate::gen::vectors::unit("hello", 64);
        let norm: f32 = v.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4);
        assert_eq!(v, crate::gen::vectors::unit("hello", 64));
    }
}
