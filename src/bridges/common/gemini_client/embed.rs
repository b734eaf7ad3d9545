//! A Gemini client's embedding requests (`embedContent`, `batchEmbedContents`) read into
//! texts, and the embeddings written back in the shape of the client's endpoint.
//!
//! Owns: [`Embed`] and the two answer shapes, `{embedding:{values}}` and
//! `{embeddings:[{values}]}`. A content's text parts are joined by a space (Gemini embeds a
//! content whole); `taskType` and `title` have no counterpart and are dropped. Must never:
//! accept a non-text part, or differing `outputDimensionality` in one batch (a 400).

use serde_json::{json, Map, Value};

use super::fields::get;
use crate::bridges::common::json::{arr, obj};
use crate::bridges::common::Side;
use crate::wire::ConvertError;

const REQ: Side = Side::Request;

/// What to embed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Embed {
    pub texts: Vec<String>,
    pub dimensions: Option<u64>,
    /// The client called `batchEmbedContents` (answered with a list).
    pub batch: bool,
}

/// An `embedContent` body (`batch` false) or a `batchEmbedContents` body.
pub(crate) fn read(body: &Value, batch: bool) -> Result<Embed, ConvertError> {
    let r = obj(body, "request body", REQ)?;
    if !batch {
        return Ok(Embed {
            texts: vec![text(r)?],
            dimensions: dimensions(r)?,
            batch,
        });
    }
    let requests = arr(get(r, "requests").unwrap_or(&Value::Null), "requests", REQ)?;
    let mut texts = Vec::with_capacity(requests.len());
    let mut dims = None;
    for (i, q) in requests.iter().enumerate() {
        let q = obj(q, "requests[]", REQ)?;
        texts.push(text(q)?);
        let d = dimensions(q)?;
        if i > 0 && d != dims {
            return Err(REQ.err(
                "requests[].outputDimensionality must be the same for every request of a batch",
            ));
        }
        dims = d;
    }
    if texts.is_empty() {
        return Err(REQ.err("requests must not be empty"));
    }
    Ok(Embed {
        texts,
        dimensions: dims,
        batch,
    })
}

fn text(r: &Map<String, Value>) -> Result<String, ConvertError> {
    let c = obj(get(r, "content").unwrap_or(&Value::Null), "content", REQ)?;
    let parts = arr(
        get(c, "parts").unwrap_or(&Value::Null),
        "content.parts",
        REQ,
    )?;
    let mut texts = Vec::with_capacity(parts.len());
    for p in parts {
        match get(obj(p, "content.parts[]", REQ)?, "text") {
            Some(Value::String(t)) => texts.push(t.as_str()),
            _ => return Err(REQ.err("only text parts can be embedded by this model")),
        }
    }
    Ok(texts.join(" "))
}

fn dimensions(r: &Map<String, Value>) -> Result<Option<u64>, ConvertError> {
    match get(r, "outputDimensionality") {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|d| *d > 0)
            .map(Some)
            .ok_or_else(|| REQ.err("outputDimensionality must be a positive integer")),
    }
}

/// The answer to the client's endpoint: one embedding, or the batch's list in order.
pub(crate) fn answer(mut vectors: Vec<Value>, batch: bool) -> Result<Value, ConvertError> {
    if batch {
        let list: Vec<Value> = vectors.into_iter().map(|v| json!({"values": v})).collect();
        return Ok(json!({"embeddings": list}));
    }
    match (vectors.pop(), vectors.is_empty()) {
        (Some(v), true) => Ok(json!({"embedding": {"values": v}})),
        _ => Err(Side::Upstream.err("the upstream answered other than one embedding")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_batch_requests() {
        let one = read(
            &json!({"model":"models/e","content":{"parts":[{"text":"a"},{"text":"b"}]},
            "taskType":"RETRIEVAL_QUERY","output_dimensionality":64}),
            false,
        )
        .unwrap();
        assert_eq!(
            one,
            Embed {
                texts: vec!["a b".into()],
                dimensions: Some(64),
                batch: false
            }
        );
        let b = read(
            &json!({"requests":[
            {"model":"models/e","content":{"parts":[{"text":"x"}]},"outputDimensionality":8},
            {"model":"models/e","content":{"parts":[{"text":"y"}]},"outputDimensionality":8}]}),
            true,
        )
        .unwrap();
        assert_eq!(b.texts, ["x", "y"]);
        assert_eq!(b.dimensions, Some(8));
        assert_eq!(
            answer(vec![json!([0.1]), json!([0.2])], true).unwrap(),
            json!({"embeddings":[{"values":[0.1]},{"values":[0.2]}]})
        );
        assert_eq!(
            answer(vec![json!([0.5])], false).unwrap(),
            json!({"embedding":{"values":[0.5]}})
        );
        assert!(answer(vec![], false).is_err());
        assert!(answer(vec![json!([1]), json!([2])], false).is_err());
    }

    #[test]
    fn malformed_embedding_requests() {
        for (body, batch) in [
            (json!({}), false),
            (json!({"content":{"parts":[{"inlineData":{}}]}}), false),
            (
                json!({"content":{"parts":[{"text":"a"}]},"outputDimensionality":0}),
                false,
            ),
            (json!({"requests":[]}), true),
            (json!({"requests":{}}), true),
            (
                json!({"requests":[{"content":{"parts":[{"text":"a"}]},"outputDimensionality":8},
                {"content":{"parts":[{"text":"b"}]}}]}),
                true,
            ),
        ] {
            assert!(
                matches!(read(&body, batch), Err(ConvertError::InvalidRequest(_))),
                "{body}"
            );
        }
    }
}
