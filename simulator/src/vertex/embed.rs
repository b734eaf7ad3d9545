//! Vertex AI's embeddings, in the three shapes the Google Gen AI SDK uses: `:predict`
//! (text-embedding models: `instances[{content}]` → `predictions[{embeddings{values,
//! statistics}}]`), `:embedContent` (Gemini embedding models, one content) and
//! `:batchEmbedContents` (several).
//! Owns those shapes; must never depend on anything but the input.

use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::gemini::embed::{batch_requests, check_task, content_prompt, dims, values};
use crate::gemini::fields::{body_object, check_names, get, invalid, invalid_value};
use crate::gemini::models::Spec;
use crate::gen::text;

/// Most instances of one `:predict`.
const MAX_INSTANCES: usize = 250;

/// `POST ...:predict`.
pub(crate) fn predict(spec: Spec, body: &[u8]) -> Result<Value, ApiError> {
    let obj = body_object(body)?;
    check_names(&obj, &["instances", "parameters"], None)?;
    let instances = get(&obj, "instances")
        .and_then(Value::as_array)
        .filter(|i| !i.is_empty())
        .ok_or_else(|| invalid("* instances: instances must not be empty.\n"))?;
    if instances.len() > MAX_INSTANCES {
        return Err(invalid(format!(
            "* instances: at most {MAX_INSTANCES} instances are allowed per request.\n"
        )));
    }
    let parameters = get(&obj, "parameters").and_then(Value::as_object);
    let dims = dims(
        spec,
        parameters.and_then(|p| get(p, "outputDimensionality")),
        "parameters.output_dimensionality",
    )?;
    let mut chars = 0;
    let mut predictions = Vec::with_capacity(instances.len());
    for (i, instance) in instances.iter().enumerate() {
        let at = format!("instances[{i}]");
        let instance = instance
            .as_object()
            .ok_or_else(|| invalid_value(&at, "TYPE_STRUCT", instance))?;
        check_task(get(instance, "taskType"), &format!("{at}.task_type"))?;
        let content = get(instance, "content")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("* {at}.content: content is required.\n")))?;
        chars += content.chars().filter(|c| !c.is_whitespace()).count();
        predictions.push(json!({"embeddings": {
            "statistics": {"truncated": false, "token_count": text::words(content).max(1)},
            "values": values(content, dims)}}));
    }
    Ok(json!({"predictions": predictions, "metadata": {"billableCharacterCount": chars}}))
}

/// One content with its `embedContentConfig`: its values and prompt tokens.
fn embed_one(
    spec: Spec,
    request: &str,
    obj: &serde_json::Map<String, Value>,
) -> Result<(Value, u64), ApiError> {
    let config = get(obj, "embedContentConfig").and_then(Value::as_object);
    let field = |name: &str| config.and_then(|c| get(c, name));
    check_task(field("taskType"), "embed_content_config.task_type")?;
    let dims = dims(
        spec,
        field("outputDimensionality"),
        "embed_content_config.output_dimensionality",
    )?;
    let prompt = content_prompt(request, get(obj, "content"))?;
    Ok((values(&prompt.text, dims), prompt.tokens))
}

/// `POST ...:embedContent`: `{embedding{values}, usageMetadata{promptTokenCount}, truncated}`.
pub(crate) fn embed_content(spec: Spec, body: &[u8]) -> Result<Value, ApiError> {
    let obj = body_object(body)?;
    check_names(&obj, &["content", "embedContentConfig", "model"], None)?;
    let (values, tokens) = embed_one(spec, "EmbedContentRequest", &obj)?;
    Ok(
        json!({"embedding": {"values": values}, "usageMetadata": {"promptTokenCount": tokens},
        "truncated": false}),
    )
}

/// `POST ...:batchEmbedContents`: `{embeddings[{values}]}`.
pub(crate) fn batch_embed(spec: Spec, body: &[u8]) -> Result<Value, ApiError> {
    let embeddings = batch_requests(body)?
        .iter()
        .map(|r| Ok(json!({"values": embed_one(spec, "BatchEmbedContentsRequest", r)?.0})))
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(json!({ "embeddings": embeddings }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_shapes() {
        let spec = Spec::of("text-embedding-005");
        let p = predict(spec, br#"{"instances":[{"content":"a b"},{"content":"c","task_type":"RETRIEVAL_QUERY"}],"parameters":{"outputDimensionality":16}}"#).unwrap();
        assert_eq!(p["predictions"].as_array().unwrap().len(), 2);
        assert_eq!(
            p["predictions"][0]["embeddings"]["values"]
                .as_array()
                .unwrap()
                .len(),
            16
        );
        assert_eq!(
            p["predictions"][0]["embeddings"]["statistics"]["token_count"],
            2
        );
        assert!(predict(spec, br#"{"instances":[]}"#).is_err());
        assert!(predict(spec, br#"{"instances":[{"text":"a"}]}"#).is_err());
        let spec = Spec::of("gemini-embedding-001");
        let e = embed_content(spec, br#"{"content":{"parts":[{"text":"a"}]},"embedContentConfig":{"outputDimensionality":8}}"#).unwrap();
        assert_eq!(e["embedding"]["values"].as_array().unwrap().len(), 8);
        let b = batch_embed(spec, br#"{"requests":[{"content":{"parts":[{"text":"a"}]}},{"content":{"parts":[{"text":"b"}]}}]}"#).unwrap();
        assert_eq!(b["embeddings"].as_array().unwrap().len(), 2);
    }
}
