//! Vertex AI's publisher models: `GET /{version}/publishers/google/models` (paged, as
//! `publisherModels`) and `GET .../models/{model}`.
//! Owns the `PublisherModel` shape; must never generate answers.

use serde_json::{json, Value};

use crate::errors::{ApiError, ErrorKind};
use crate::gemini::models::page;
use crate::Provider;

fn publisher_model(id: &str, display: &str) -> Value {
    json!({"name": format!("publishers/google/models/{id}"), "versionId": "001",
        "displayName": display, "openSourceCategory": "PROPRIETARY", "launchStage": "GA"})
}

/// The list: `{publisherModels, nextPageToken?}`.
pub(crate) fn list(query: Option<&str>) -> Result<Value, ApiError> {
    page(Provider::Vertex, query, "publisherModels", publisher_model)
}

/// One publisher model.
pub(crate) fn get(model: &str) -> Result<Value, ApiError> {
    if Provider::Vertex.knows_model(model) {
        Ok(publisher_model(model, model))
    } else {
        Err(ApiError::new(
            http::StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            format!("Publisher Model `publishers/google/models/{model}` not found."),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_what_it_serves() {
        let all = list(None).unwrap();
        let names: Vec<&str> = all["publisherModels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"publishers/google/models/gemini-2.0-flash"));
        assert!(!names.iter().any(|n| n.contains("gemma")));
        assert!(get("gpt-4o").is_err());
    }
}
