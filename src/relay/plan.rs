//! What a request asks for and what the upstream must be sent.
//!
//! Owns: reading the few fields routing needs (model, stream, include_usage) without building
//! the body, and producing the upstream body: the client's bytes untouched when no change is
//! needed, a rewritten or converted body otherwise.
//! Must never: do I/O.

use crate::convert;
use crate::error::RelayError;
use crate::providers::{Endpoint, WireFormat};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

/// The fields routing needs; everything else in the body is skipped, not built.
#[derive(Debug, Deserialize)]
pub struct Peek {
    pub model: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
}

#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: Option<bool>,
}

impl Peek {
    pub fn parse(body: &[u8]) -> Result<Self, RelayError> {
        // serde reads a struct from a JSON array too (`["gpt-4o"]`): only an object is a request.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(RelayError::BadRequest(
                "the request body must be a JSON object".to_owned(),
            ));
        }
        serde_json::from_slice(body)
            .map_err(|e| RelayError::BadRequest(format!("the request body is not valid JSON: {e}")))
    }

    pub fn model(&self) -> Result<&str, RelayError> {
        match self.model.as_deref() {
            Some(m) if !m.is_empty() => Ok(m),
            _ => Err(RelayError::BadRequest(
                "you must provide a model parameter".to_owned(),
            )),
        }
    }

    pub fn stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    None,
    ChatToMessages,
    MessagesToChat,
}

impl Conversion {
    pub fn between(client: WireFormat, upstream: WireFormat) -> Self {
        match (client, upstream) {
            (WireFormat::OpenAi, WireFormat::Anthropic) => Self::ChatToMessages,
            (WireFormat::Anthropic, WireFormat::OpenAi) => Self::MessagesToChat,
            _ => Self::None,
        }
    }
}

/// The upstream body, and whether the relay added `include_usage` the client did not ask for.
pub fn upstream_body(
    endpoint: Endpoint,
    conversion: Conversion,
    peek: &Peek,
    body: Bytes,
    client_model: &str,
    upstream_model: &str,
) -> Result<(Bytes, bool), RelayError> {
    let force_usage = conversion == Conversion::None
        && peek.stream()
        && !peek.include_usage()
        && matches!(endpoint, Endpoint::Chat | Endpoint::Completions);
    let value = match conversion {
        Conversion::None if client_model == upstream_model && !force_usage => {
            return Ok((body, false));
        }
        Conversion::None => {
            let mut v = parse(&body)?;
            v["model"] = Value::String(upstream_model.to_owned());
            if force_usage {
                v["stream_options"] = serde_json::json!({"include_usage": true});
            }
            v
        }
        Conversion::ChatToMessages => {
            convert::chat_request_to_messages(&parse(&body)?, upstream_model)?
        }
        Conversion::MessagesToChat => {
            convert::messages_request_to_chat(&parse(&body)?, upstream_model)?
        }
    };
    let bytes = serde_json::to_vec(&value)
        .map_err(|e| RelayError::BadRequest(format!("cannot encode the request: {e}")))?;
    Ok((Bytes::from(bytes), force_usage))
}

fn parse(body: &[u8]) -> Result<Value, RelayError> {
    serde_json::from_slice(body)
        .map_err(|e| RelayError::BadRequest(format!("the request body is not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(body: &str, conv: Conversion, um: &str) -> (Value, bool) {
        let peek = Peek::parse(body.as_bytes()).unwrap();
        let model = peek.model().unwrap().to_owned();
        let (b, forced) = upstream_body(
            Endpoint::Chat,
            conv,
            &peek,
            Bytes::from(body.to_owned()),
            &model,
            um,
        )
        .unwrap();
        (serde_json::from_slice(&b).unwrap(), forced)
    }

    #[test]
    fn untouched_when_nothing_changes() {
        let body = r#"{"model":"m","messages":[],"extra":{"kept":true}}"#;
        let peek = Peek::parse(body.as_bytes()).unwrap();
        let bytes = Bytes::from_static(body.as_bytes());
        let (out, forced) = upstream_body(
            Endpoint::Chat,
            Conversion::None,
            &peek,
            bytes.clone(),
            "m",
            "m",
        )
        .unwrap();
        assert_eq!(out, bytes);
        assert!(!forced);
    }

    #[test]
    fn maps_model_and_forces_stream_usage() {
        let (v, forced) = plan(
            r#"{"model":"a","stream":true,"messages":[]}"#,
            Conversion::None,
            "b",
        );
        assert_eq!(v["model"], "b");
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert!(forced);
        let (v, forced) = plan(
            r#"{"model":"a","stream":true,"stream_options":{"include_usage":true}}"#,
            Conversion::None,
            "b",
        );
        assert_eq!(v["model"], "b");
        assert!(!forced);
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
    }
}
