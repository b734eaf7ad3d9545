//! The bridge from an OpenAI client to a Gemini upstream (the Gemini API or Vertex AI).
//!
//! Owns: chat request -> `GenerateContentRequest` (`request`), `GenerateContentResponse` ->
//! chat completion (`response`), Gemini chunks -> `chat.completion.chunk`s (`stream`), and
//! embeddings <-> `batchEmbedContents` (`embeddings`). Gemini's words are read through
//! `providers::gemini` and the shared `common::gemini_upstream`; OpenAI's written through
//! `providers::openai`; an in-stream error chunk is read by Gemini's reader and rendered by
//! `error.rs`. Must never: do I/O, or buffer a streamed answer.

mod embeddings;
mod request;
mod response;
mod stream;

pub(crate) use embeddings::{embeddings_request_to_gemini, gemini_embeddings_to_openai};
pub(crate) use request::chat_request_to_gemini;
pub(crate) use response::gemini_response_to_chat;
#[cfg(test)]
pub(crate) use stream::tests as stream_tests;
pub(crate) use stream::GeminiToChatStream;

use super::common::gemini_upstream::{Embedding, ToGemini};
use super::common::Converting;

pub(super) static OPENAI_TO_GEMINI: ToGemini = ToGemini {
    generate: Converting {
        request: chat_request_to_gemini,
        answer: gemini_response_to_chat,
        stream: |s| {
            Box::new(
                GeminiToChatStream::new(s.client_model, s.include_usage).with_redactor(s.redactor),
            )
        },
    },
    embed: Some(Embedding {
        request: embeddings_request_to_gemini,
        answer: gemini_embeddings_to_openai,
    }),
};

#[cfg(test)]
mod tests {
    use crate::bridges::{bridge, Asked, Request};
    use crate::config::ProviderKind;
    use crate::providers::provider_for;
    use crate::upstream::UpstreamError;
    use crate::wire::{Endpoint, WireFormat};
    use bytes::Bytes;
    use serde_json::{json, Value};

    fn ask(op: Endpoint, body: Value) -> Request<'static> {
        Request {
            op,
            client_op: Endpoint::Chat,
            body: Bytes::from(body.to_string()),
            stream: false,
            include_usage: false,
            client_model: "mine",
            upstream_model: "gemini-embedding-001",
        }
    }

    #[test]
    fn the_operation_picks_the_converters() {
        let b = bridge(WireFormat::OpenAi, WireFormat::Gemini).unwrap();
        let p = provider_for(ProviderKind::Openai);
        let chat = json!({"model":"mine","messages":[{"role":"user","content":"hi"}]});
        let (out, asked) = b
            .request_asking(p, ask(Endpoint::GenerateContent, chat.clone()))
            .unwrap();
        let v: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(v["contents"][0]["parts"][0]["text"], "hi");
        assert_eq!((asked, out.strip_usage), (Asked::default(), false));
        let emb = json!({"model":"mine","input":"hi","encoding_format":"base64"});
        let (out, asked) = b
            .request_asking(p, ask(Endpoint::BatchEmbedContents, emb))
            .unwrap();
        let v: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(v["requests"][0]["model"], "models/gemini-embedding-001");
        assert!(asked.base64_embeddings);
        let answer = Bytes::from_static(br#"{"embeddings":[{"values":[1.0]}]}"#);
        let (body, usage) = b
            .response_asked(
                p,
                Endpoint::BatchEmbedContents,
                Endpoint::Embeddings,
                answer,
                "mine",
                true,
                asked,
            )
            .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["data"][0]["embedding"], "AACAPw==");
        assert_eq!(usage.unwrap().prompt_tokens, 0);
        assert!(b.request(p, ask(Endpoint::Chat, chat)).is_err());
        assert!(matches!(
            b.response(
                p,
                Endpoint::CountTokens,
                Endpoint::Chat,
                Bytes::from_static(b"{}"),
                "m",
                false
            ),
            Err(UpstreamError::Invalid(_))
        ));
        let a = bridge(WireFormat::Anthropic, WireFormat::Gemini).unwrap();
        assert!(a
            .request(p, ask(Endpoint::BatchEmbedContents, json!({"input":"x"})))
            .is_err());
    }
}
