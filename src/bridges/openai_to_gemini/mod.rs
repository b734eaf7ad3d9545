//! The bridge from an OpenAI client to a Gemini upstream (the Gemini API or Vertex AI).
//!
//! Owns: chat request -> `GenerateContentRequest` (`request`), `GenerateContentResponse` ->
//! chat completion (`response`), Gemini chunks -> `chat.completion.chunk`s (`stream`),
//! embeddings <-> `batchEmbedContents` (`embeddings`), and the media: image generations from a
//! Gemini image model (`images`) or Imagen (`imagen`), `size` as an aspect ratio
//! (`image_size`), speech from a TTS model (`speech`) as PCM or WAV (`wav`). Gemini's words are read through
//! `providers::gemini` and the shared `common::gemini_upstream`; OpenAI's written through
//! `providers::openai`; an in-stream error chunk is read by Gemini's reader and rendered by
//! `error.rs`. Must never: do I/O, or buffer a streamed answer.

mod embeddings;
mod image_size;
mod imagen;
mod images;
mod request;
mod response;
mod speech;
mod stream;
mod wav;

pub(crate) use embeddings::{embeddings_request_to_gemini, gemini_embeddings_to_openai};
pub(crate) use request::chat_request_to_gemini;
pub(crate) use response::gemini_response_to_chat;
#[cfg(test)]
pub(crate) use stream::tests as stream_tests;
pub(crate) use stream::GeminiToChatStream;

use super::common::gemini_upstream::{Embedding, Media, MediaOp, ToGemini};
use super::common::Converting;
use super::Asked;
use crate::upstream::UpstreamError;
use crate::wire::{ConvertError, Usage};
use bytes::Bytes;
use serde_json::Value;

/// An OpenAI media request as the body of its Gemini operation.
fn media_request(op: MediaOp, req: &Value) -> Result<(Value, Asked), ConvertError> {
    match op {
        MediaOp::Images => Ok((images::images_request_to_gemini(req)?, Asked::default())),
        MediaOp::Imagen => Ok((imagen::imagen_request_from_openai(req)?, Asked::default())),
        MediaOp::Speech => speech::speech_request_to_gemini(req),
    }
}

/// A Gemini media answer as OpenAI's.
fn media_answer(
    op: MediaOp,
    v: &Value,
    asked: Asked,
) -> Result<(Bytes, Option<Usage>), UpstreamError> {
    match op {
        MediaOp::Images => images::gemini_images_to_openai(v),
        MediaOp::Imagen => imagen::imagen_to_openai(v),
        MediaOp::Speech => speech::gemini_speech_to_openai(v, asked),
    }
}

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
    media: Some(Media {
        request: media_request,
        answer: media_answer,
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

    fn media(
        op: Endpoint,
        client_op: Endpoint,
        model: &'static str,
        body: Value,
    ) -> Request<'static> {
        Request {
            op,
            client_op,
            body: Bytes::from(body.to_string()),
            stream: false,
            include_usage: false,
            client_model: "mine",
            upstream_model: model,
        }
    }

    #[test]
    fn media_requests_pick_their_operation_and_refuse_what_google_lacks() {
        let b = bridge(WireFormat::OpenAi, WireFormat::Gemini).unwrap();
        let p = provider_for(ProviderKind::Vertex);
        let img = json!({"model":"mine","prompt":"a fox","n":2});
        let on = |op, model: &'static str, body: &Value| {
            b.request_asking(
                p,
                media(op, Endpoint::ImageGenerations, model, body.clone()),
            )
        };
        // Vertex AI: Imagen by `:predict`.
        let (out, _) = on(Endpoint::ImageGenerations, "imagen-4.0-generate-001", &img).unwrap();
        let v: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(v["parameters"]["sampleCount"], 2);
        // The Gemini API: no Imagen.
        let e = on(Endpoint::GenerateContent, "imagen-4.0-generate-001", &img)
            .err()
            .unwrap();
        assert!(e.to_string().contains("vertex channel"), "{e}");
        let one = json!({"prompt":"a fox"});
        for op in [Endpoint::GenerateContent, Endpoint::ImageGenerations] {
            let (out, asked) = on(op, "gemini-2.5-flash-image", &one).unwrap();
            let v: Value = serde_json::from_slice(&out.body).unwrap();
            assert_eq!(
                v["generationConfig"]["responseModalities"],
                json!(["TEXT", "IMAGE"])
            );
            assert_eq!(asked, Asked::default());
        }
        let mut streamed = media(
            Endpoint::GenerateContent,
            Endpoint::ImageGenerations,
            "m",
            one,
        );
        streamed.stream = true;
        let e = b.request_asking(p, streamed).err().unwrap();
        assert!(e.to_string().contains("stream is not available"), "{e}");
        let speech = json!({"input":"hi","voice":"alloy","response_format":"pcm"});
        let (_, asked) = b
            .request_asking(
                p,
                media(Endpoint::GenerateContent, Endpoint::Speech, "tts", speech),
            )
            .unwrap();
        assert_eq!(asked.answer_type, Some("audio/pcm"));
        let a = bridge(WireFormat::Anthropic, WireFormat::Gemini).unwrap();
        assert!(a
            .request(
                p,
                media(
                    Endpoint::GenerateContent,
                    Endpoint::Speech,
                    "tts",
                    json!({})
                )
            )
            .is_err());
    }

    #[test]
    fn media_answers_are_told_apart_by_their_shape() {
        let b = bridge(WireFormat::OpenAi, WireFormat::Gemini).unwrap();
        let p = provider_for(ProviderKind::Vertex);
        let answer = |body: Value| {
            b.response_asked(
                p,
                Endpoint::ImageGenerations,
                Endpoint::ImageGenerations,
                Bytes::from(body.to_string()),
                "mine",
                false,
                Asked::default(),
            )
        };
        let (body, usage) =
            answer(json!({"predictions":[{"bytesBase64Encoded":"aa","mimeType":"image/png"}]}))
                .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (v["data"][0]["b64_json"].as_str(), usage),
            (Some("aa"), None)
        );
        let (body, _) = answer(json!({"candidates":[{"content":{"parts":[
            {"inlineData":{"mimeType":"image/png","data":"bb"}}]},"finishReason":"STOP"}]}))
        .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["data"][0]["b64_json"], "bb");
        assert!(matches!(
            b.response_asked(
                p,
                Endpoint::GenerateContent,
                Endpoint::Speech,
                Bytes::from_static(b"not json"),
                "m",
                false,
                Asked::default()
            ),
            Err(UpstreamError::Invalid(_))
        ));
    }
}
