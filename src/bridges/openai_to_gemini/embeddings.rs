//! OpenAI `/v1/embeddings` <-> Gemini `batchEmbedContents`.
//!
//! Owns: `embeddings_request_to_gemini` (a string or an array of strings, one request each,
//! `dimensions` as `outputDimensionality`; token arrays are a 400: Gemini embeds text) and
//! `gemini_embeddings_to_openai` (the OpenAI list, `encoding_format: "base64"` honoured: the
//! OpenAI SDKs ask for it by default and decode little-endian f32s). Must never: guess a
//! vector or usage (absent usage reads as zeros).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::bridges::common::json::{arr, obj, opt, opt_str, Obj};
use crate::bridges::common::Side;
use crate::bridges::Asked;
use crate::wire::{count, ConvertError, Usage};

const REQ: Side = Side::Request;
const UP: Side = Side::Upstream;

/// Convert an OpenAI embeddings request into a `batchEmbedContents` body for `upstream_model`,
/// and what the client asked of the answer.
pub(crate) fn embeddings_request_to_gemini(
    req: &Value,
    upstream_model: &str,
) -> Result<(Value, Asked), ConvertError> {
    let r = obj(req, "request body", REQ)?;
    let texts: Vec<&str> = match r.get("input") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| {
                i.as_str().ok_or_else(|| {
                    REQ.err("input must be a string or an array of strings (token arrays are not supported by this model)")
                })
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(REQ.err("input must be a non-empty string or array of strings")),
    };
    let dims = match opt(r, "dimensions") {
        None => None,
        Some(d) => Some(
            d.as_u64()
                .filter(|d| *d > 0)
                .ok_or_else(|| REQ.err("dimensions must be a positive integer"))?,
        ),
    };
    let base64 = match opt_str(r, "encoding_format", "request", REQ)? {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => return Err(REQ.err(format!("encoding_format {other} is not supported"))),
    };
    let model = format!("models/{upstream_model}");
    let requests: Vec<Value> = texts
        .iter()
        .map(|t| {
            let mut one = Obj::new();
            one.insert("model".into(), json!(model));
            one.insert("content".into(), json!({"parts": [{"text": t}]}));
            if let Some(d) = dims {
                one.insert("outputDimensionality".into(), json!(d));
            }
            Value::Object(one)
        })
        .collect();
    Ok((
        json!({ "requests": requests }),
        Asked {
            base64_embeddings: base64,
            ..Asked::default()
        },
    ))
}

/// Convert a `batchEmbedContents` answer into an OpenAI embeddings list for `client_model`.
pub(crate) fn gemini_embeddings_to_openai(
    resp: &Value,
    client_model: &str,
    asked: Asked,
) -> Result<(Value, Usage), ConvertError> {
    let r = obj(resp, "upstream response", UP)?;
    let list = arr(
        r.get("embeddings").unwrap_or(&Value::Null),
        "upstream embeddings",
        UP,
    )?;
    let mut data = Vec::with_capacity(list.len());
    for (index, e) in list.iter().enumerate() {
        let values = arr(
            e.get("values").unwrap_or(&Value::Null),
            "upstream embeddings[].values",
            UP,
        )?;
        let embedding = if asked.base64_embeddings {
            let mut bytes = Vec::with_capacity(values.len() * 4);
            for v in values {
                let f = v
                    .as_f64()
                    .ok_or_else(|| UP.err("upstream embedding values must be numbers"))?;
                bytes.extend_from_slice(&(f as f32).to_le_bytes());
            }
            json!(STANDARD.encode(bytes))
        } else {
            if !values.iter().all(Value::is_number) {
                return Err(UP.err("upstream embedding values must be numbers"));
            }
            Value::Array(values.clone())
        };
        data.push(json!({"object": "embedding", "index": index, "embedding": embedding}));
    }
    // Gemini API answers carry no usage; Vertex's and proxies' may (unconfirmed shapes).
    let prompt = r
        .get("usageMetadata")
        .map(|u| count(u.get("promptTokenCount")))
        .unwrap_or(0);
    let usage = Usage {
        prompt_tokens: prompt,
        ..Usage::default()
    };
    let out = json!({
        "object": "list",
        "data": data,
        "model": client_model,
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
    });
    Ok((out, usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_one_per_input() {
        let (v, asked) = embeddings_request_to_gemini(
            &json!({"model":"mine","input":["a","b"],"dimensions":8,"encoding_format":"base64"}),
            "gemini-embedding-001",
        )
        .unwrap();
        assert!(asked.base64_embeddings);
        assert_eq!(
            v,
            json!({"requests":[
            {"model":"models/gemini-embedding-001","content":{"parts":[{"text":"a"}]},"outputDimensionality":8},
            {"model":"models/gemini-embedding-001","content":{"parts":[{"text":"b"}]},"outputDimensionality":8}]})
        );
        let (v, asked) = embeddings_request_to_gemini(&json!({"input":"x"}), "m").unwrap();
        assert!(!asked.base64_embeddings);
        assert_eq!(v["requests"][0].get("outputDimensionality"), None);
        for bad in [
            json!({"input":[1,2,3]}),
            json!({"input":[[1,2]]}),
            json!({"input":[]}),
            json!({}),
            json!({"input":"x","dimensions":0}),
            json!({"input":"x","encoding_format":"hex"}),
            json!([]),
        ] {
            assert!(
                matches!(
                    embeddings_request_to_gemini(&bad, "m"),
                    Err(ConvertError::InvalidRequest(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn answers_as_floats_or_base64() {
        let resp = json!({"embeddings":[{"values":[0.5,-1.0]},{"values":[0.25]}]});
        let (out, usage) = gemini_embeddings_to_openai(&resp, "mine", Asked::default()).unwrap();
        assert_eq!(
            out,
            json!({"object":"list","data":[
            {"object":"embedding","index":0,"embedding":[0.5,-1.0]},
            {"object":"embedding","index":1,"embedding":[0.25]}],
            "model":"mine","usage":{"prompt_tokens":0,"total_tokens":0}})
        );
        assert_eq!(usage, Usage::default());
        let b64 = Asked {
            base64_embeddings: true,
            ..Asked::default()
        };
        let (out, _) = gemini_embeddings_to_openai(&resp, "mine", b64).unwrap();
        let bytes = STANDARD
            .decode(out["data"][0]["embedding"].as_str().unwrap())
            .unwrap();
        let floats: Vec<f32> = bytes
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(floats, vec![0.5, -1.0]);
        let (_, usage) = gemini_embeddings_to_openai(
            &json!({"embeddings":[],"usageMetadata":{"promptTokenCount":7}}),
            "m",
            b64,
        )
        .unwrap();
        assert_eq!(usage.prompt_tokens, 7);
        for bad in [
            json!({}),
            json!({"embeddings":[{}]}),
            json!({"embeddings":[{"values":["x"]}]}),
        ] {
            assert!(
                gemini_embeddings_to_openai(&bad, "m", b64).is_err(),
                "{bad}"
            );
            assert!(gemini_embeddings_to_openai(&bad, "m", Asked::default()).is_err());
        }
    }
}
