//! The bridge from a Gemini client (Google's SDKs on the relay's native Gemini routes) to an
//! Anthropic upstream.
//!
//! Owns: `GenerateContentRequest` -> messages request (`request`), message ->
//! `GenerateContentResponse` (`response`), Anthropic events -> Gemini chunks (`stream`). The
//! Gemini side is read and written by `common::gemini_client`; Anthropic's words through
//! `providers::anthropic`; an in-stream `event: error` is read by Anthropic's reader and
//! rendered by `error.rs`. Anthropic embeds nothing (its provider serves no embedding call).
//! Must never: do I/O, or hold more of a streamed answer than one tool call's arguments.

mod request;
mod response;
mod stream;

pub(crate) use request::generate_to_messages;
pub(crate) use response::messages_response_to_generate;
pub(crate) use stream::MessagesToGenerateStream;

use super::common::gemini_client::GeminiClient;

pub(super) static GEMINI_TO_ANTHROPIC: GeminiClient = GeminiClient {
    generate: generate_to_messages,
    answer: messages_response_to_generate,
    stream: |s| Box::new(MessagesToGenerateStream::new(s.client_model).with_redactor(s.redactor)),
    embed: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridges::{Bridge, Request};
    use crate::config::ProviderKind;
    use crate::providers::provider_for;
    use crate::wire::Endpoint;
    use bytes::Bytes;

    #[test]
    fn generate_is_converted_and_embeddings_are_refused() {
        let r = |client_op, body: &'static [u8]| Request {
            op: Endpoint::Messages,
            client_op,
            body: Bytes::from_static(body),
            stream: true,
            include_usage: false,
            client_model: "gemini-alias",
            upstream_model: "claude-x",
        };
        let p = provider_for(ProviderKind::Anthropic);
        let out = GEMINI_TO_ANTHROPIC
            .request(
                p,
                r(
                    Endpoint::GenerateContent,
                    br#"{"contents":[{"parts":[{"text":"Hi"}]}]}"#,
                ),
            )
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(
            (v["model"].as_str(), v["stream"].as_bool()),
            (Some("claude-x"), Some(true))
        );
        let e = GEMINI_TO_ANTHROPIC
            .request(
                p,
                r(
                    Endpoint::EmbedContent,
                    br#"{"content":{"parts":[{"text":"a"}]}}"#,
                ),
            )
            .err()
            .unwrap();
        assert!(e.to_string().contains("embeddings"), "{e}");
        let answer = GEMINI_TO_ANTHROPIC.response(
            p,
            Endpoint::Messages,
            Endpoint::BatchEmbedContents,
            Bytes::from_static(b"{}"),
            "m",
            false,
        );
        assert!(answer.is_err());
    }
}
