//! What a media answer, and its request, are billed by.
//!
//! Owns: reading images, audio seconds, an image's size and quality, and the tokens that
//! gpt-image, gpt-4o transcription and speech models report, from a whole JSON answer and from
//! a stream's terminal event; and what a request asks for before its answer: an image
//! generation's `n`, `size` and `quality` (its JSON body), speech's `input` characters, and an
//! upload's fields ([`of_fields`], for the multipart reader to call).
//! Must never: guess: what the answer does not say is 0 (a `text`, `srt` or `vtt`
//! transcription says no duration; a binary speech answer says nothing); a size or quality
//! that is absent, `auto` or unknown is `None`.

use crate::wire::{count, Endpoint, ImageQuality, ImageSize, MediaUsage, Usage};
use serde_json::Value;

/// What one whole JSON answer to `endpoint` is billed by: its tokens where it reports them,
/// and its media units.
pub(crate) fn of_answer(endpoint: Endpoint, body: &[u8]) -> (Option<Usage>, MediaUsage) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return (None, MediaUsage::default());
    };
    of_value(endpoint, &v)
}

/// What a media stream's event is billed by, when it is the event that says (an image's
/// `completed`, speech's `speech.audio.done`, a transcript's `transcript.text.done`).
pub(crate) fn of_event(v: &Value) -> (Option<Usage>, MediaUsage) {
    let mut media = MediaUsage::default();
    let kind = v["type"].as_str().unwrap_or_default();
    if kind.ends_with(".completed") && v.get("b64_json").is_some() {
        media.images = 1;
        read_look(v, &mut media);
    }
    let usage = v.get("usage").and_then(tokens);
    if let Some(s) = v.get("usage").and_then(seconds) {
        media.audio_seconds = s;
    }
    (usage, media)
}

/// [`of_answer`] of an answer already parsed.
pub(crate) fn of_value(endpoint: Endpoint, v: &Value) -> (Option<Usage>, MediaUsage) {
    let mut media = MediaUsage::default();
    match endpoint {
        Endpoint::ImageGenerations | Endpoint::ImageEdits | Endpoint::ImageVariations => {
            media.images = v["data"].as_array().map_or(0, |d| d.len() as u64);
            read_look(v, &mut media);
        }
        Endpoint::Transcriptions | Endpoint::Translations => {
            media.audio_seconds = v
                .get("usage")
                .and_then(seconds)
                .or_else(|| v["duration"].as_f64())
                .unwrap_or(0.0);
        }
        Endpoint::Speech | Endpoint::Moderations | Endpoint::Videos => {}
        Endpoint::Chat
        | Endpoint::Completions
        | Endpoint::Embeddings
        | Endpoint::Messages
        | Endpoint::GenerateContent
        | Endpoint::CountTokens
        | Endpoint::EmbedContent
        | Endpoint::BatchEmbedContents => return (None, media),
    }
    (v.get("usage").and_then(tokens), media)
}

/// The `size` and `quality` a GPT image answer (or its `completed` event) reports.
fn read_look(v: &Value, media: &mut MediaUsage) {
    media.size = v["size"].as_str().and_then(ImageSize::parse);
    media.quality = v["quality"].as_str().and_then(ImageQuality::parse);
}

/// A media `usage` object's tokens (`input_tokens`, `output_tokens`), when it counts tokens.
fn tokens(u: &Value) -> Option<Usage> {
    if u.get("input_tokens").is_none() && u.get("output_tokens").is_none() {
        return None;
    }
    Some(Usage {
        prompt_tokens: count(u.get("input_tokens")),
        completion_tokens: count(u.get("output_tokens")),
        cache_read_tokens: 0,
        cache_creation_tokens: 0,
    })
}

/// A transcription's `{"type":"duration","seconds":9}`.
fn seconds(u: &Value) -> Option<f64> {
    (u["type"] == "duration")
        .then(|| u["seconds"].as_f64())
        .flatten()
        .filter(|s| s.is_finite() && *s >= 0.0)
}

/// What a JSON media request asks for before its answer: an image generation's `n` (1 when
/// unset), `size` and `quality`; speech's `input` characters. `None` for other endpoints and
/// bodies that are not JSON objects (the upstream will refuse them).
pub(crate) fn of_request(endpoint: Endpoint, body: &[u8]) -> Option<MediaUsage> {
    #[derive(serde::Deserialize)]
    struct Asked {
        #[serde(default)]
        input: Option<String>,
        #[serde(default)]
        n: Option<Value>,
        #[serde(default)]
        size: Option<Value>,
        #[serde(default)]
        quality: Option<Value>,
    }
    match endpoint {
        Endpoint::Speech => {
            let input = serde_json::from_slice::<Asked>(body).ok()?.input?;
            Some(MediaUsage {
                characters: input.chars().count() as u64,
                ..MediaUsage::default()
            })
        }
        Endpoint::ImageGenerations => {
            let a = serde_json::from_slice::<Asked>(body).ok()?;
            let text = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).map(str::to_owned);
            let n = a.n.as_ref().and_then(Value::as_u64);
            Some(of_fields(
                endpoint,
                text(&a.size).as_deref(),
                text(&a.quality).as_deref(),
                n,
            ))
        }
        Endpoint::ImageEdits
        | Endpoint::ImageVariations
        | Endpoint::Transcriptions
        | Endpoint::Translations
        | Endpoint::Moderations
        | Endpoint::Videos
        | Endpoint::Chat
        | Endpoint::Completions
        | Endpoint::Embeddings
        | Endpoint::Messages
        | Endpoint::GenerateContent
        | Endpoint::CountTokens
        | Endpoint::EmbedContent
        | Endpoint::BatchEmbedContents => None,
    }
}

/// The most images one request is estimated at (OpenAI's `n` is 1 to 10; a larger `n` is the
/// upstream's to refuse, and must not inflate the reservation past reason).
pub(crate) const MAX_IMAGES: u64 = 10;

/// What an image request asks for, from its fields as text: `size` (`1024x1792`), `quality`
/// (`hd`, `high`, ...) and `n` (1 when unset, at most [`MAX_IMAGES`]). For the JSON
/// generations body ([`of_request`]) and for a multipart upload's text fields (edits,
/// variations): the upload reader calls it once it has read them, and the relay puts the
/// result in `Record.media_asked` before admission, so the estimate and the price see them.
/// Other endpoints ask for no images (a transcription's seconds are its answer's).
pub(crate) fn of_fields(
    endpoint: Endpoint,
    size: Option<&str>,
    quality: Option<&str>,
    n: Option<u64>,
) -> MediaUsage {
    if endpoint.family() != crate::wire::Family::Images {
        return MediaUsage::default();
    }
    MediaUsage {
        images: n.unwrap_or(1).clamp(1, MAX_IMAGES),
        size: size.and_then(ImageSize::parse),
        quality: quality.and_then(ImageQuality::parse),
        ..MediaUsage::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_counted_and_their_tokens_read() {
        let body = br#"{"created":1,"data":[{"b64_json":"aa"},{"b64_json":"bb"}],
            "usage":{"input_tokens":50,"output_tokens":70,"total_tokens":120}}"#;
        let (usage, media) = of_answer(Endpoint::ImageGenerations, body);
        assert_eq!(media.images, 2);
        let usage = usage.expect("tokens");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (50, 70));
        let (usage, media) = of_answer(Endpoint::ImageVariations, br#"{"data":[{"url":"u"}]}"#);
        assert_eq!((usage, media.images), (None, 1));
    }

    #[test]
    fn transcriptions_are_billed_by_seconds_or_tokens() {
        let whisper = br#"{"text":"hi","usage":{"type":"duration","seconds":9}}"#;
        assert_eq!(
            of_answer(Endpoint::Transcriptions, whisper).1.audio_seconds,
            9.0
        );
        let verbose = br#"{"task":"transcribe","duration":8.5,"text":"hi"}"#;
        assert_eq!(
            of_answer(Endpoint::Translations, verbose).1.audio_seconds,
            8.5
        );
        let tokens =
            br#"{"text":"hi","usage":{"type":"tokens","input_tokens":14,"output_tokens":3}}"#;
        let (usage, media) = of_answer(Endpoint::Transcriptions, tokens);
        assert_eq!(usage.expect("tokens").prompt_tokens, 14);
        assert_eq!(media.audio_seconds, 0.0);
    }

    #[test]
    fn speech_is_billed_by_its_input_characters() {
        let body = r#"{"model":"tts-1","input":"héllo","voice":"alloy"}"#;
        assert_eq!(
            of_request(Endpoint::Speech, body.as_bytes()).map(|m| m.characters),
            Some(5)
        );
        assert_eq!(of_request(Endpoint::Chat, body.as_bytes()), None);
    }

    #[test]
    fn terminal_events_say_what_the_stream_made() {
        let done: Value = serde_json::from_str(
            r#"{"type":"image_generation.completed","b64_json":"aa","usage":{"input_tokens":5,"output_tokens":6}}"#,
        )
        .unwrap();
        let (usage, media) = of_event(&done);
        assert_eq!((media.images, usage.unwrap().completion_tokens), (1, 6));
        let partial: Value =
            serde_json::from_str(r#"{"type":"image_generation.partial_image","b64_json":"aa"}"#)
                .unwrap();
        assert_eq!(of_event(&partial).1.images, 0);
    }

    #[test]
    fn image_requests_say_how_many_of_which_size_and_quality() {
        let body =
            br#"{"model":"dall-e-3","prompt":"a cat","n":2,"size":"1024x1792","quality":"hd"}"#;
        let m = of_request(Endpoint::ImageGenerations, body).unwrap();
        assert_eq!(m.images, 2);
        assert_eq!(m.size, ImageSize::parse("1024x1792"));
        assert_eq!(m.quality, Some(ImageQuality::Hd));
        let bare = of_request(Endpoint::ImageGenerations, br#"{"prompt":"a cat"}"#).unwrap();
        assert_eq!((bare.images, bare.size, bare.quality), (1, None, None));
        let auto = br#"{"prompt":"a","size":"auto","quality":"auto","n":500}"#;
        let m = of_request(Endpoint::ImageGenerations, auto).unwrap();
        assert_eq!((m.images, m.size, m.quality), (MAX_IMAGES, None, None));
        let odd = br#"{"prompt":"a","size":5,"n":"two"}"#;
        assert_eq!(
            of_request(Endpoint::ImageGenerations, odd).unwrap().images,
            1
        );
        assert_eq!(of_request(Endpoint::ImageGenerations, b"[1]"), None);
        assert_eq!(of_request(Endpoint::Moderations, br#"{"input":"x"}"#), None);
    }

    #[test]
    fn upload_fields_are_read_for_image_endpoints_only() {
        let m = of_fields(
            Endpoint::ImageEdits,
            Some("1024x1536"),
            Some("low"),
            Some(3),
        );
        assert_eq!(m.images, 3);
        assert_eq!(m.quality, Some(ImageQuality::Low));
        assert!(of_fields(Endpoint::Transcriptions, Some("1x1"), None, Some(2)).is_empty());
    }

    #[test]
    fn gpt_image_answers_say_their_resolved_size_and_quality() {
        let body = br#"{"size":"1536x1024","quality":"high","data":[{"b64_json":"aa"}],
            "usage":{"input_tokens":5,"output_tokens":6}}"#;
        let (_, m) = of_answer(Endpoint::ImageGenerations, body);
        assert_eq!(m.size, ImageSize::parse("1536x1024"));
        assert_eq!(m.quality, Some(ImageQuality::High));
    }
}
