//! What a request asks for.
//!
//! Owns: reading the few fields routing and admission need (model, stream, include_usage,
//! max_tokens) without building
//! the body, and refusing a body that is not a JSON object. (What the upstream is sent is its
//! bridge's: `crate::bridges`.)
//! Must never: do I/O.

use crate::error::RelayError;
use serde::Deserialize;

/// The fields routing needs; everything else in the body is skipped, not built.
#[derive(Debug, Deserialize)]
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
}

#[derive(Debug, Deserialize)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    pub include_usage: Option<bool>,
}

impl Peek {
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
        whole(&self.max_completion_tokens).or_else(|| whole(&self.max_tokens))
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
    }
}
