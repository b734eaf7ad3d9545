//! A Gemini client's embeddings on an OpenAI-format upstream: the request as an embeddings
//! request, and its answer's vectors in order.
//!
//! Owns: `input` (a string for `embedContent`, an array for a batch), `dimensions`,
//! `encoding_format: "float"`, and reading `data[].embedding` by `index`. Must never: accept
//! vectors that are not arrays (base64 would not be Gemini's `values`).

use serde_json::{json, Value};

use crate::bridges::common::gemini_client::embed::Embed;
use crate::bridges::common::gemini_client::Vectors;
use crate::bridges::common::json::{arr, obj, Obj};
use crate::bridges::common::Side;
use crate::providers::openai;
use crate::wire::ConvertError;

const UP: Side = Side::Upstream;

/// What to embed as an OpenAI embeddings request for `upstream_model`.
pub(super) fn request(e: &Embed, upstream_model: &str) -> Result<Value, ConvertError> {
    let mut out = Obj::new();
    out.insert("model".into(), json!(upstream_model));
    let input = match (e.batch, e.texts.as_slice()) {
        (false, [one]) => json!(one),
        _ => json!(e.texts),
    };
    out.insert("input".into(), input);
    out.insert("encoding_format".into(), json!("float"));
    if let Some(d) = e.dimensions {
        out.insert("dimensions".into(), json!(d));
    }
    Ok(Value::Object(out))
}

/// The vectors of an OpenAI embeddings answer, in input order, and its usage.
pub(super) fn answer(resp: &Value) -> Result<Vectors, ConvertError> {
    let r = obj(resp, "upstream response", UP)?;
    let data = arr(r.get("data").unwrap_or(&Value::Null), "upstream data", UP)?;
    let mut indexed = Vec::with_capacity(data.len());
    for (pos, d) in data.iter().enumerate() {
        let d = obj(d, "upstream data[]", UP)?;
        let v = d
            .get("embedding")
            .filter(|v| v.is_array())
            .ok_or_else(|| UP.err("upstream data[].embedding must be an array of floats"))?;
        let index = d.get("index").and_then(Value::as_u64).unwrap_or(pos as u64);
        indexed.push((index, v.clone()));
    }
    indexed.sort_by_key(|(i, _)| *i);
    let usage = r
        .get("usage")
        .and_then(openai::usage::read)
        .unwrap_or_default();
    Ok((indexed.into_iter().map(|(_, v)| v).collect(), usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers() {
        let one = Embed {
            texts: vec!["a".into()],
            dimensions: Some(64),
            batch: false,
        };
        assert_eq!(
            request(&one, "text-embedding-3-small").unwrap(),
            json!({"model":"text-embedding-3-small","input":"a","encoding_format":"float","dimensions":64})
        );
        let batch = Embed {
            texts: vec!["a".into()],
            dimensions: None,
            batch: true,
        };
        assert_eq!(request(&batch, "e").unwrap()["input"], json!(["a"]));
        let (v, u) = answer(&json!({"object":"list","data":[
            {"object":"embedding","index":1,"embedding":[0.2]},
            {"object":"embedding","index":0,"embedding":[0.1]}],
            "usage":{"prompt_tokens":4,"total_tokens":4}}))
        .unwrap();
        assert_eq!(v, [json!([0.1]), json!([0.2])]);
        assert_eq!(u.prompt_tokens, 4);
        for bad in [
            json!({}),
            json!({"data":[{"embedding":"AAAA"}]}),
            json!({"data":[3]}),
        ] {
            assert!(answer(&bad).is_err(), "{bad}");
        }
    }
}
