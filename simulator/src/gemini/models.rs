//! Google's model catalogue: what each model is (text or embedding), its limits and whether
//! it thinks; the Gemini API's `GET models` (paged) and `GET models/{model}`.
//! Owns model facts and listing; must never generate answers.

use serde_json::{json, Value};

use super::fields::invalid;
use super::path::Method;
use crate::errors::{ApiError, ErrorKind};
use crate::Provider;

/// Whether (and how) a model thinks before it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Thinking {
    /// Never (`gemini-2.0-*`, Gemma).
    No,
    /// By default; `thinkingBudget: 0` turns it off (`gemini-2.5-flash*`).
    Optional,
    /// Always; `thinkingBudget: 0` is refused (`gemini-2.5-pro`, `gemini-3*`).
    Required,
}

/// What a model is, derived from its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Spec {
    /// `Some(dimensions)` for an embedding model, `None` for a text model.
    pub(crate) embedding: Option<u64>,
    pub(crate) thinking: Thinking,
    pub(crate) input_limit: u64,
    pub(crate) output_limit: u64,
    /// What else than text the model can answer.
    pub(crate) output: Output,
}

/// The media a model writes (by name: `*-image*` models draw, `*-tts*` models speak; the TTS
/// model names are unconfirmed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    Text,
    Image,
    Speech,
    /// Imagen (`imagen-*`, Vertex AI's `:predict` only).
    Imagen,
}

impl Spec {
    /// The facts of any model id the provider accepts.
    pub(crate) fn of(model: &str) -> Spec {
        let embedding = model.contains("embedding").then(|| {
            if model.starts_with("gemini-embedding") {
                3072
            } else {
                768
            }
        });
        let output = if model.starts_with("imagen-") {
            Output::Imagen
        } else if model.contains("-image") {
            Output::Image
        } else if model.contains("-tts") {
            Output::Speech
        } else {
            Output::Text
        };
        let thinking = if output != Output::Text {
            Thinking::No
        } else if model.starts_with("gemini-2.5-pro") || model.starts_with("gemini-3") {
            Thinking::Required
        } else if model.starts_with("gemini-2.5") {
            Thinking::Optional
        } else {
            Thinking::No
        };
        let output_limit = match (embedding, thinking) {
            (Some(_), _) => 1,
            (None, Thinking::No) => 8192,
            (None, Thinking::Optional | Thinking::Required) => 65_536,
        };
        Spec {
            embedding,
            thinking,
            input_limit: if embedding.is_some() { 2048 } else { 1_048_576 },
            output_limit,
            output,
        }
    }

    /// Whether the model answers `method`.
    pub(crate) fn serves(&self, method: Method) -> bool {
        match method {
            Method::Generate | Method::Stream => {
                self.embedding.is_none() && self.output != Output::Imagen
            }
            Method::CountTokens => self.output != Output::Imagen,
            Method::Predict => self.embedding.is_some() || self.output == Output::Imagen,
            Method::Embed | Method::BatchEmbed => self.embedding.is_some(),
        }
    }

    fn methods(&self) -> &'static [&'static str] {
        match self.embedding {
            Some(_) => &["embedContent", "countTextTokens", "countTokens"],
            None => &[
                "generateContent",
                "countTokens",
                "createCachedContent",
                "batchGenerateContent",
            ],
        }
    }
}

/// The models listed, with their display names.
pub(crate) const CATALOGUE: [(&str, &str); 8] = [
    ("gemini-2.5-pro", "Gemini 2.5 Pro"),
    ("gemini-2.5-flash", "Gemini 2.5 Flash"),
    ("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite"),
    ("gemini-2.0-flash", "Gemini 2.0 Flash"),
    ("gemini-2.0-flash-lite", "Gemini 2.0 Flash-Lite"),
    ("gemma-3-27b-it", "Gemma 3 27B"),
    ("gemini-embedding-001", "Gemini Embedding 001"),
    ("text-embedding-004", "Text Embedding 004"),
];

/// The Gemini API's 404 for a model it does not serve for `method` (its real wording).
pub(crate) fn not_served(model: &str, version: &str, method: Method) -> ApiError {
    ApiError::new(
        http::StatusCode::NOT_FOUND,
        ErrorKind::NotFound,
        format!(
            "models/{model} is not found for API version {version}, or is not supported for {}. Call ListModels to see the list of available models and their supported methods.",
            method.name()
        ),
    )
}

/// The Gemini API's `Model` object.
fn model_object(id: &str, display: &str) -> Value {
    let spec = Spec::of(id);
    let mut m = json!({"name": format!("models/{id}"), "version": "001", "displayName": display,
        "description": format!("{display} (simulated)"), "inputTokenLimit": spec.input_limit,
        "outputTokenLimit": spec.output_limit, "supportedGenerationMethods": spec.methods()});
    if spec.embedding.is_none() {
        for (k, v) in [
            ("temperature", json!(1)),
            ("topP", json!(0.95)),
            ("topK", json!(64)),
            ("maxTemperature", json!(2)),
        ] {
            m[k] = v;
        }
    }
    if spec.thinking != Thinking::No {
        m["thinking"] = Value::Bool(true);
    }
    m
}

/// One page of the catalogue (the models `provider` serves) as `{KEY: [...],
/// nextPageToken?}`: `pageSize` (default 50, at most 1000) items from the offset `pageToken`
/// holds; `nextPageToken` when more follow.
pub(crate) fn page(
    provider: Provider,
    query: Option<&str>,
    key: &str,
    item: impl Fn(&str, &str) -> Value,
) -> Result<Value, ApiError> {
    let served: Vec<&(&str, &str)> = CATALOGUE
        .iter()
        .filter(|(id, _)| provider.knows_model(id))
        .collect();
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let size = match param("pageSize") {
        None => 50,
        Some(v) => match v.parse::<i64>() {
            Ok(0) => 50,
            Ok(n @ 1..) => usize::try_from(n.min(1000)).unwrap_or(1000),
            _ => {
                return Err(invalid(format!(
                    "Invalid value at 'page_size' (TYPE_INT32), \"{v}\""
                )))
            }
        },
    };
    let start = match param("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => token
            .strip_prefix("sim-page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n < served.len())
            .ok_or_else(|| invalid("Invalid page token."))?,
    };
    let items: Vec<Value> = served
        .iter()
        .skip(start)
        .take(size)
        .map(|(id, display)| item(id, display))
        .collect();
    let mut body = json!({ key: items });
    if start + size < served.len() {
        body["nextPageToken"] = Value::String(format!("sim-page-{}", start + size));
    }
    Ok(body)
}

/// `GET /{version}/models`: `{models, nextPageToken?}`.
pub(crate) fn list(query: Option<&str>) -> Result<Value, ApiError> {
    page(Provider::Gemini, query, "models", model_object)
}

/// `GET /{version}/models/{model}`.
pub(crate) fn get(model: &str, version: &str) -> Result<Value, ApiError> {
    if !Provider::Gemini.knows_model(model) {
        return Err(ApiError::new(
            http::StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            format!("models/{model} is not found for API version {version}."),
        ));
    }
    let display = CATALOGUE
        .iter()
        .find(|(id, _)| *id == model)
        .map_or(model, |(_, d)| d);
    Ok(model_object(model, display))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(Spec::of("gemini-2.5-pro").thinking, Thinking::Required);
        assert_eq!(
            Spec::of("gemini-2.5-flash-lite").thinking,
            Thinking::Optional
        );
        assert_eq!(Spec::of("gemini-2.0-flash").thinking, Thinking::No);
        assert_eq!(Spec::of("gemini-embedding-001").embedding, Some(3072));
        assert_eq!(Spec::of("text-embedding-005").embedding, Some(768));
        assert!(!Spec::of("text-embedding-004").serves(Method::Generate));
        assert!(Spec::of("gemini-2.0-flash").serves(Method::Stream));
    }

    #[test]
    fn pages() {
        let first = list(Some("pageSize=3")).unwrap();
        assert_eq!(first["models"].as_array().unwrap().len(), 3);
        let token = first["nextPageToken"].as_str().unwrap();
        let mut seen = 3;
        let mut token = token.to_owned();
        loop {
            let page = list(Some(&format!("pageSize=3&pageToken={token}"))).unwrap();
            seen += page["models"].as_array().unwrap().len();
            match page["nextPageToken"].as_str() {
                Some(t) => token = t.to_owned(),
                None => break,
            }
        }
        assert_eq!(seen, CATALOGUE.len());
        assert!(list(Some("pageToken=bogus")).is_err());
        assert!(list(Some("pageSize=-1")).is_err());
        assert!(list(None).unwrap().get("nextPageToken").is_none());
        assert!(get("gpt-4o", "v1beta").is_err());
        assert_eq!(
            get("gemini-2.0-flash", "v1").unwrap()["name"],
            "models/gemini-2.0-flash"
        );
    }
}
