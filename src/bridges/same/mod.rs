//! The pass-through bridge: client and upstream speak the same format.
//!
//! Owns: the client's bytes sent untouched unless a mapping changed the model (then the
//! upstream's name goes in) or the upstream must be asked for usage the client did not ask for
//! (its provider says how); the answer passed through with its usage read by the provider and,
//! under a mapping, the client's model name in its `model` member (the rest of its bytes as
//! they came); the stream passed through by the provider's reader.
//! A format that names the model in the path (Gemini) has no `model` member to set or restore.
//! Must never: build a body it does not change, or know a format's words (the provider does).

use super::common::json::{request_bytes, request_json};
use super::{Bridge, Outgoing, Request, StreamSetup};
use crate::error::RelayError;
use crate::providers::{PassOptions, Provider};
use crate::stream::json_scan::{replace_string_member, Member};
use crate::stream::Transform;
use crate::upstream::UpstreamError;
use crate::wire::{Endpoint, Usage};
use bytes::Bytes;
use serde_json::Value;

pub(super) struct Same;

impl Bridge for Same {
    fn request(&self, provider: &dyn Provider, r: Request<'_>) -> Result<Outgoing, RelayError> {
        let ask_usage = r
            .stream
            .then(|| provider.stream_usage(r.op, r.include_usage))
            .flatten();
        let rename = r.client_model != r.upstream_model && provider.names_model_in_body();
        if !rename && ask_usage.is_none() {
            return Ok(Outgoing {
                body: r.body,
                strip_usage: false,
            });
        }
        let mut v = request_json(&r.body)?;
        let Some(o) = v.as_object_mut() else {
            return Err(RelayError::BadRequest(
                "the request body must be a JSON object".to_owned(),
            ));
        };
        if rename {
            o.insert("model".into(), Value::from(r.upstream_model));
        }
        if let Some(ask) = ask_usage {
            ask(&mut v);
        }
        Ok(Outgoing {
            body: request_bytes(&v)?,
            strip_usage: ask_usage.is_some(),
        })
    }

    fn response(
        &self,
        provider: &dyn Provider,
        _op: Endpoint,
        _client_op: Endpoint,
        body: Bytes,
        client_model: &str,
        renamed: bool,
    ) -> Result<(Bytes, Option<Usage>), UpstreamError> {
        let usage = provider.usage_of(&body)?;
        let named = (renamed && provider.names_model_in_body())
            .then(|| std::str::from_utf8(&body).ok())
            .flatten()
            .and_then(|text| {
                replace_string_member(text, Member::Model, &Value::from(client_model).to_string())
            });
        Ok((named.map_or(body, Bytes::from), usage))
    }

    fn stream(&self, provider: &dyn Provider, setup: StreamSetup<'_>) -> Box<dyn Transform> {
        provider.pass_stream(PassOptions {
            strip_usage: setup.strip_usage,
            client_model: setup.renamed.then(|| setup.client_model.to_owned()),
            redactor: setup.redactor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;
    use crate::providers::provider_for;
    use crate::wire::Endpoint;

    fn send(kind: ProviderKind, body: &str, upstream_model: &str) -> (Value, bool) {
        let v: Value = serde_json::from_str(body).unwrap();
        let r = Request {
            op: Endpoint::Chat,
            client_op: Endpoint::Chat,
            body: Bytes::from(body.to_owned()),
            stream: v["stream"] == true,
            include_usage: v["stream_options"]["include_usage"] == true,
            client_model: v["model"].as_str().unwrap(),
            upstream_model,
        };
        let out = Same.request(provider_for(kind), r).unwrap();
        (serde_json::from_slice(&out.body).unwrap(), out.strip_usage)
    }

    #[test]
    fn untouched_when_nothing_changes() {
        let body = r#"{"model":"m","messages":[],"extra":{"kept":true}}"#;
        let r = Request {
            op: Endpoint::Chat,
            client_op: Endpoint::Chat,
            body: Bytes::from_static(body.as_bytes()),
            stream: false,
            include_usage: false,
            client_model: "m",
            upstream_model: "m",
        };
        let out = Same.request(provider_for(ProviderKind::Openai), r).unwrap();
        assert_eq!(&out.body[..], body.as_bytes());
        assert!(!out.strip_usage);
    }

    #[test]
    fn maps_model_and_asks_for_stream_usage_when_the_format_needs_asking() {
        let (v, strip) = send(
            ProviderKind::Openai,
            r#"{"model":"a","stream":true,"messages":[]}"#,
            "b",
        );
        assert_eq!(v["model"], "b");
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert!(strip);
        let (v, strip) = send(
            ProviderKind::Openai,
            r#"{"model":"a","stream":true,"stream_options":{"include_usage":true}}"#,
            "b",
        );
        assert_eq!(v["model"], "b");
        assert!(!strip);
        let (v, strip) = send(
            ProviderKind::Anthropic,
            r#"{"model":"a","stream":true,"messages":[]}"#,
            "b",
        );
        assert_eq!(
            (v["model"].as_str(), v.get("stream_options")),
            (Some("b"), None)
        );
        assert!(!strip, "Anthropic streams always report usage");
    }

    #[test]
    fn formats_that_name_the_model_in_the_path_get_no_model_member() {
        for kind in [ProviderKind::Gemini, ProviderKind::Vertex] {
            let body = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;
            let r = Request {
                op: Endpoint::GenerateContent,
                client_op: Endpoint::GenerateContent,
                body: Bytes::from_static(body.as_bytes()),
                stream: true,
                include_usage: false,
                client_model: "alias",
                upstream_model: "gemini-2.0-flash",
            };
            let out = Same.request(provider_for(kind), r).unwrap();
            assert_eq!(&out.body[..], body.as_bytes(), "{kind}: untouched");
            assert!(!out.strip_usage);
            let answer = r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"model":"x"}}}]}}]}"#;
            let (back, _) = Same
                .response(
                    provider_for(kind),
                    Endpoint::GenerateContent,
                    Endpoint::GenerateContent,
                    Bytes::from_static(answer.as_bytes()),
                    "alias",
                    true,
                )
                .unwrap();
            assert_eq!(
                &back[..],
                answer.as_bytes(),
                "{kind}: a `model` in args is content"
            );
        }
    }

    #[test]
    fn an_answer_passes_with_its_usage_and_the_clients_model_name() {
        let p = provider_for(ProviderKind::Openai);
        let body = r#"{"id":"x","model":"up/m","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":1}}"#;
        let (out, usage) = Same
            .response(
                p,
                Endpoint::Chat,
                Endpoint::Chat,
                Bytes::from_static(body.as_bytes()),
                "mine",
                true,
            )
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            body.replace("up/m", "mine")
        );
        assert_eq!(usage.unwrap().prompt_tokens, 2);
        let (out, _) = Same
            .response(
                p,
                Endpoint::Chat,
                Endpoint::Chat,
                Bytes::from_static(body.as_bytes()),
                "up/m",
                false,
            )
            .unwrap();
        assert_eq!(&out[..], body.as_bytes(), "untouched");
        assert!(matches!(
            Same.response(
                p,
                Endpoint::Chat,
                Endpoint::Chat,
                Bytes::from_static(b"{\"cut"),
                "m",
                false
            ),
            Err(UpstreamError::Invalid(_))
        ));
    }
}
