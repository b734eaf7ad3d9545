//! Embeddings: the Gemini API's `embedContent` (`{embedding{values}}`) and
//! `batchEmbedContents` (`{embeddings[{values}]}`), and the pieces Vertex AI's shapes share
//! (sizes, task types, vectors).
//! Owns embedding requests and shapes; must never depend on anything but the input.

use serde_json::{json, Map, Value};

use super::content::{self, Prompt};
use super::fields::{body_object, check_names, get, invalid, invalid_value};
use super::models::Spec;
use crate::errors::ApiError;
use crate::gen::vectors;

const TASK_TYPES: [&str; 9] = [
    "TASK_TYPE_UNSPECIFIED",
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
];

/// Fields of one `EmbedContentRequest`.
const NAMES: [&str; 5] = [
    "model",
    "content",
    "taskType",
    "title",
    "outputDimensionality",
];

/// Most requests in one batch.
pub(crate) const MAX_BATCH: usize = 100;

/// The vector size: `outputDimensionality` (1..=the model's size), else the model's size.
pub(crate) fn dims(spec: Spec, asked: Option<&Value>, at: &str) -> Result<u64, ApiError> {
    let full = spec.embedding.unwrap_or(768);
    match asked {
        None => Ok(full),
        Some(v) => match v.as_u64() {
            Some(n @ 1..) if n <= full => Ok(n),
            _ => Err(invalid(format!(
                "* {at}: output_dimensionality must be between 1 and {full}, got {v}.\n"
            ))),
        },
    }
}

/// Checks a task type.
pub(crate) fn check_task(task: Option<&Value>, at: &str) -> Result<(), ApiError> {
    match task {
        None => Ok(()),
        Some(v) if v.as_str().is_some_and(|t| TASK_TYPES.contains(&t)) => Ok(()),
        Some(v) => Err(invalid_value(at, "TaskType", v)),
    }
}

/// A unit vector for `text`, as JSON numbers.
pub(crate) fn values(text: &str, dims: u64) -> Value {
    Value::from(
        vectors::unit(text, dims)
            .into_iter()
            .map(f64::from)
            .collect::<Vec<_>>(),
    )
}

/// The prompt of one `content` to embed (named `request` in errors).
pub(crate) fn content_prompt(request: &str, content: Option<&Value>) -> Result<Prompt, ApiError> {
    let content = content
        .ok_or_else(|| invalid(format!("* {request}.content: content is not specified\n")))?;
    content::prompt(request, None, Some(std::slice::from_ref(content)))
}

/// One `EmbedContentRequest` of the Gemini API, as `{values}`.
fn embed_one(
    obj: &Map<String, Value>,
    spec: Spec,
    request: &str,
    at: &str,
) -> Result<Value, ApiError> {
    check_names(obj, &NAMES, (!at.is_empty()).then_some(at))?;
    check_task(get(obj, "taskType"), &format!("{at}task_type"))?;
    let dims = dims(
        spec,
        get(obj, "outputDimensionality"),
        &format!("{request}.{at}output_dimensionality"),
    )?;
    let prompt = content_prompt(request, get(obj, "content"))?;
    Ok(json!({"values": values(&prompt.text, dims)}))
}

/// `POST models/{model}:embedContent`.
pub(crate) fn embed_content(spec: Spec, body: &[u8]) -> Result<Value, ApiError> {
    let obj = body_object(body)?;
    Ok(json!({"embedding": embed_one(&obj, spec, "EmbedContentRequest", "")?}))
}

/// The `requests` of a `batchEmbedContents` body: 1 to [`MAX_BATCH`] objects.
pub(crate) fn batch_requests(body: &[u8]) -> Result<Vec<Map<String, Value>>, ApiError> {
    const R: &str = "BatchEmbedContentsRequest";
    let mut obj = body_object(body)?;
    check_names(&obj, &["requests"], None)?;
    let requests = match obj.remove("requests") {
        Some(Value::Array(r)) if !r.is_empty() && r.len() <= MAX_BATCH => r,
        _ => {
            return Err(invalid(format!(
                "* {R}.requests: between 1 and {MAX_BATCH} requests are allowed.\n"
            )))
        }
    };
    requests
        .into_iter()
        .enumerate()
        .map(|(i, r)| match r {
            Value::Object(map) => Ok(map),
            other => Err(invalid_value(
                &format!("requests[{i}]"),
                "EmbedContentRequest",
                &other,
            )),
        })
        .collect()
}

/// `POST models/{model}:batchEmbedContents`: each request's `model`, when given, must be the
/// one in the path (`models/{model}`).
pub(crate) fn batch_embed(model: &str, spec: Spec, body: &[u8]) -> Result<Value, ApiError> {
    const R: &str = "BatchEmbedContentsRequest";
    let want = format!("models/{model}");
    let embeddings = batch_requests(body)?
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let at = format!("requests[{i}]");
            match get(r, "model").and_then(Value::as_str) {
                Some(m) if m != want => Err(invalid(format!(
                    "* {R}.{at}.model: the model of each request must be the batch's, {want}; got {m}.\n"
                ))),
                _ => embed_one(r, spec, R, &format!("{at}.")),
            }
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(json!({ "embeddings": embeddings }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_sizes() {
        let spec = Spec::of("gemini-embedding-001");
        let one = embed_content(
            spec,
            br#"{"content":{"parts":[{"text":"a"}]},"outputDimensionality":8}"#,
        )
        .unwrap();
        assert_eq!(one["embedding"]["values"].as_array().unwrap().len(), 8);
        let full = embed_content(spec, br#"{"content":{"parts":[{"text":"a"}]}}"#).unwrap();
        assert_eq!(full["embedding"]["values"].as_array().unwrap().len(), 3072);
        let batch = batch_embed(
            "gemini-embedding-001",
            spec,
            br#"{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"a"}]},"output_dimensionality":4},
                {"content":{"parts":[{"text":"b"}]},"taskType":"RETRIEVAL_QUERY","outputDimensionality":4}]}"#,
        )
        .unwrap();
        let list = batch["embeddings"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_ne!(list[0], list[1]);
        assert!(embed_content(
            spec,
            br#"{"content":{"parts":[{"text":"a"}]},"outputDimensionality":4000}"#
        )
        .is_err());
        assert!(embed_content(
            spec,
            br#"{"content":{"parts":[{"text":"a"}]},"taskType":"GUESS"}"#
        )
        .is_err());
        assert!(embed_content(spec, br#"{}"#)
            .unwrap_err()
            .message
            .contains("content is not specified"));
        assert!(batch_embed(
            "m",
            spec,
            br#"{"requests":[{"model":"models/other","content":{"parts":[{"text":"a"}]}}]}"#
        )
        .is_err());
        assert!(batch_embed("m", spec, br#"{"requests":[]}"#).is_err());
    }
}
