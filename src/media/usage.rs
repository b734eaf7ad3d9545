//! What a media answer (or, for speech, its request) is billed by.
//!
//! Owns: reading images, audio seconds, characters and the tokens that gpt-image, gpt-4o
//! transcription and speech models report, from a whole JSON answer, from a stream's terminal
//! event, and (speech) from the request's `input`.
//! Must never: guess: what the answer does not say is 0 (a `text`, `srt` or `vtt`
//! transcription says no duration; a binary speech answer says nothing).

use crate::wire::{count, Endpoint, MediaUsage, Usage};
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
pub(crate) fn of_event(endpoint: Endpoint, v: &Value) -> (Option<Usage>, MediaUsage) {
    let mut media = MediaUsage::default();
    let kind = v["type"].as_str().unwrap_or_default();
    if kind.ends_with(".completed") && v.get("b64_json").is_some() {
        media.images = 1;
    }
    let usage = v.get("usage").and_then(tokens);
    if let Some(s) = v.get("usage").and_then(seconds) {
        media.audio_seconds = s;
    }
    let _ = endpoint;
    (usage, media)
}

fn of_value(endpoint: Endpoint, v: &Value) -> (Option<Usage>, MediaUsage) {
    let mut media = MediaUsage::default();
    match endpoint {
        Endpoint::ImageGenerations | Endpoint::ImageEdits | Endpoint::ImageVariations => {
            media.images = v["data"].as_array().map_or(0, |d| d.len() as u64);
        }
        Endpoint::Transcriptions | Endpoint::Translations => {
            media.audio_seconds = v
                .get("usage")
                .and_then(seconds)
                .or_else(|| v["duration"].as_f64())
                .unwrap_or(0.0);
        }
        Endpoint::Speech | Endpoint::Moderations => {}
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

/// What a speech request is billed by before its answer: the characters of its `input`.
pub(crate) fn of_request(endpoint: Endpoint, body: &[u8]) -> Option<MediaUsage> {
    if endpoint != Endpoint::Speech {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Input {
        #[serde(default)]
        input: Option<String>,
    }
    let input = serde_json::from_slice::<Input>(body).ok()?.input?;
    Some(MediaUsage {
        characters: input.chars().count() as u64,
        ..MediaUsage::default()
    })
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
        let (usage, media) = of_event(Endpoint::ImageGenerations, &done);
        assert_eq!((media.images, usage.unwrap().completion_tokens), (1, 6));
        let partial: Value =
            serde_json::from_str(r#"{"type":"image_generation.partial_image","b64_json":"aa"}"#)
                .unwrap();
        assert_eq!(of_event(Endpoint::ImageGenerations, &partial).1.images, 0);
    }
}
