//! The bridge from a Gemini client (Google's SDKs on the relay's native Gemini routes) to an
//! OpenAI-format upstream (OpenAI, xAI, any OpenAI-compatible server).
//!
//! Owns: `GenerateContentRequest` -> chat request (`request`), chat completion ->
//! `GenerateContentResponse` (`response`), `chat.completion.chunk`s -> Gemini chunks
//! (`stream`), `embedContent` / `batchEmbedContents` <-> embeddings (`embed`). The Gemini side
//! is read and written by `common::gemini_client`; OpenAI's words through `providers::openai`;
//! an in-stream error chunk is read by OpenAI's reader and rendered by `error.rs`.
//! Must never: do I/O, or hold more of a streamed answer than one tool call's arguments.

mod embed;
mod request;
mod response;
mod stream;

pub(crate) use request::generate_to_chat;
pub(crate) use response::chat_response_to_generate;
pub(crate) use stream::ChatToGenerateStream;

use super::common::gemini_client::{Embedder, GeminiClient};

pub(super) static GEMINI_TO_OPENAI: GeminiClient = GeminiClient {
    generate: generate_to_chat,
    answer: chat_response_to_generate,
    stream: |s| Box::new(ChatToGenerateStream::new(s.client_model).with_redactor(s.redactor)),
    embed: Some(Embedder {
        request: embed::request,
        answer: embed::answer,
    }),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridges::{Bridge, Request};
    use crate::config::ProviderKind;
    use crate::providers::provider_for;
    use crate::wire::Endpoint;
    use bytes::Bytes;
    use serde_json::{json, Value};

    fn send(client_op: Endpoint, op: Endpoint, body: Value, stream: bool) -> Result<Value, String> {
        let r = Request {
            op,
            client_op,
            body: Bytes::from(body.to_string()),
            stream,
            include_usage: false,
            client_model: "gemini-alias",
            upstream_model: "up",
        };
        GEMINI_TO_OPENAI
            .request(provider_for(ProviderKind::Openai), r)
            .map(|o| {
                assert!(!o.strip_usage);
                serde_json::from_slice(&o.body).unwrap()
            })
            .map_err(|e| e.to_string())
    }

    fn answer(client_op: Endpoint, op: Endpoint, body: Value) -> Result<Value, String> {
        GEMINI_TO_OPENAI
            .response(
                provider_for(ProviderKind::Openai),
                op,
                client_op,
                Bytes::from(body.to_string()),
                "gemini-alias",
                true,
            )
            .map(|(b, _)| serde_json::from_slice(&b).unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_client_endpoint_picks_the_conversion() {
        let chat = send(
            Endpoint::GenerateContent,
            Endpoint::Chat,
            json!({"contents":[{"parts":[{"text":"Hi"}]}]}),
            true,
        )
        .unwrap();
        assert_eq!(chat["model"], "up");
        assert_eq!(chat["stream"], true);
        let one = send(
            Endpoint::EmbedContent,
            Endpoint::Embeddings,
            json!({"content":{"parts":[{"text":"a"}]}}),
            false,
        )
        .unwrap();
        assert_eq!(one["input"], "a");
        let batch = send(
            Endpoint::BatchEmbedContents,
            Endpoint::Embeddings,
            json!({"requests":[{"model":"models/e","content":{"parts":[{"text":"a"}]}}]}),
            false,
        )
        .unwrap();
        assert_eq!(batch["input"], json!(["a"]));
        let e = send(Endpoint::CountTokens, Endpoint::Chat, json!({}), false).unwrap_err();
        assert!(e.contains("countTokens"), "{e}");
        assert!(send(
            Endpoint::GenerateContent,
            Endpoint::Chat,
            json!({"x":1}),
            false
        )
        .is_err());
        let not_json = GEMINI_TO_OPENAI.request(
            provider_for(ProviderKind::Openai),
            Request {
                op: Endpoint::Chat,
                client_op: Endpoint::GenerateContent,
                body: Bytes::from_static(b"{"),
                stream: false,
                include_usage: false,
                client_model: "m",
                upstream_model: "m",
            },
        );
        assert!(not_json.is_err());
    }

    #[test]
    fn answers_take_the_shape_of_the_client_endpoint() {
        let data = json!({"data":[{"index":0,"embedding":[0.5,0.25]}],"usage":{"prompt_tokens":2}});
        assert_eq!(
            answer(Endpoint::EmbedContent, Endpoint::Embeddings, data.clone()).unwrap(),
            json!({"embedding":{"values":[0.5,0.25]}})
        );
        assert_eq!(
            answer(Endpoint::BatchEmbedContents, Endpoint::Embeddings, data).unwrap(),
            json!({"embeddings":[{"values":[0.5,0.25]}]})
        );
        let g = answer(
            Endpoint::GenerateContent,
            Endpoint::Chat,
            json!({"choices":[{"message":{"content":"Hi"},"finish_reason":"stop"}]}),
        )
        .unwrap();
        assert_eq!(g["modelVersion"], "gemini-alias");
        assert!(answer(Endpoint::Messages, Endpoint::Chat, json!({})).is_err());
    }
}
