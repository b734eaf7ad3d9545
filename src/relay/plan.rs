//! What a request asks for.
//!
//! Owns: reading the few fields routing and admission need (model, stream, include_usage,
//! max_tokens) without building the body, or taking them from the path where the client's
//! format names them there ([`FromPath`]: Gemini's `models/{model}:streamGenerateContent`), or
//! from the parts of an upload read before its file ([`Peek::of_upload`]), and
//! refusing a body that is not a JSON object. (What the upstream is sent is its
//! bridge's: `crate::bridges`.)
//! Must never: do I/O.

use crate::error::RelayError;
use crate::media::Upload;
use serde::Deserialize;

/// The fields routing needs; everything else in the body is skipped, not built.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Peek {
    pub model: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// The answer's length bound (OpenAI, Anthropic), for the quota and TPM estimate.
    /// Read leniently (a value that is not a whole number counts as unset: the upstream judges it).
    #[serde(default)]
    pub max_tokens: Option<serde_json::Value>,
    /// OpenAI's newer name for it.
    #[serde(default)]
    pub max_completion_tokens: Option<serde_json::Value>,
    /// Gemini's `generationConfig` (its `maxOutputTokens` is the bound), read leniently.
    #[serde(default, rename = "generationConfig", alias = "generation_config")]
    pub generation_config: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    pub include_usage: Option<bool>,
}

/// What the path of a request says, where its format names the model there (Gemini): it wins
/// over the body.
#[derive(Clone, Debug)]
pub(crate) struct FromPath {
    pub model: String,
    pub stream: bool,
}

impl Peek {
    /// The request as the path names it, when it does.
    pub(crate) fn with_path(mut self, path: Option<FromPath>) -> Self {
        if let Some(p) = path {
            self.model = Some(p.model);
            self.stream = Some(p.stream);
        }
        self
    }

    /// What an upload asks: its `model` part, and a `stream` part sent before it.
    pub(crate) fn of_upload(upload: &Upload) -> Self {
        Self {
            model: Some(upload.model().to_owned()),
            stream: Some(upload.stream()),
            ..Self::default()
        }
    }

    pub(crate) fn parse(body: &[u8]) -> Result<Self, RelayError> {
        // serde reads a struct from a JSON array too (`["gpt-4o"]`): only an object is a request.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(RelayError::BadRequest(
                "the request body must be a JSON object".to_owned(),
            ));
        }
        serde_json::from_slice(body)
            .map_err(|e| RelayError::BadRequest(format!("the request body is not valid JSON: {e}")))
    }

    pub(crate) fn model(&self) -> Result<&str, RelayError> {
        match self.model.as_deref() {
            Some(m) if !m.is_empty() => Ok(m),
            _ => Err(RelayError::BadRequest(
                "you must provide a model parameter".to_owned(),
            )),
        }
    }

    pub(crate) fn stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// The answer's length bound the request sets, if any.
    pub(crate) fn max_tokens(&self) -> Option<u64> {
        let whole = |v: &Option<serde_json::Value>| v.as_ref().and_then(serde_json::Value::as_u64);
        let gemini = self.generation_config.as_ref().and_then(|g| {
            g.get("maxOutputTokens")
                .or_else(|| g.get("max_output_tokens"))
                .and_then(serde_json::Value::as_u64)
        });
        whole(&self.max_completion_tokens)
            .or_else(|| whole(&self.max_tokens))
            .or(gemini)
    }

    pub(crate) fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_bound_is_read_in_every_format() {
        let bound = |b: &str| Peek::parse(b.as_bytes()).unwrap().max_tokens();
        assert_eq!(
            bound(r#"{"max_completion_tokens":5,"max_tokens":9}"#),
            Some(5)
        );
        assert_eq!(bound(r#"{"max_tokens":9}"#), Some(9));
        assert_eq!(
            bound(r#"{"generationConfig":{"maxOutputTokens":7}}"#),
            Some(7)
        );
        assert_eq!(
            bound(r#"{"generation_config":{"max_output_tokens":8}}"#),
            Some(8)
        );
        assert_eq!(bound(r#"{"generationConfig":"odd"}"#), None);
    }

    #[test]
    fn bad_json_and_missing_model_are_client_errors() {
        assert!(matches!(
            Peek::parse(b"{nope"),
            Err(RelayError::BadRequest(_))
        ));
        for not_an_object in [&b"[1]"[..], br#"["gpt-4o-mini"]"#, b"\"m\"", b""] {
            assert!(matches!(
                Peek::parse(not_an_object),
                Err(RelayError::BadRequest(_))
            ));
        }
        assert!(Peek::parse(b" \n{\"model\":\"m\"}").is_ok());
        let p = Peek::parse(b"{\"messages\":[]}").unwrap();
        assert!(matches!(p.model(), Err(RelayError::BadRequest(_))));
        let from_path = FromPath {
            model: "gemini-2.5-flash".into(),
            stream: true,
        };
        let p = Peek::parse(br#"{"model":"other","contents":[]}"#)
            .unwrap()
            .with_path(Some(from_path));
        assert_eq!((p.model().unwrap(), p.stream()), ("gemini-2.5-flash", true));
    }
}
