//! OpenAI `/v1/audio/speech` <-> a Gemini TTS model's `generateContent`.
//!
//! Owns: the request (`input` as the one user turn, `responseModalities: ["AUDIO"]`, `voice`
//! as a prebuilt voice: OpenAI's voice names mapped to Gemini voices of a like character, any
//! other name passed as a Gemini voice name; a custom voice object is a 400), the formats
//! (`pcm` as Google's 24 kHz s16le mono PCM, `wav` that PCM in a WAV header, no format at all
//! `wav`; `mp3`, `opus`, `aac`, `flac` 400s: the relay encodes no audio; `stream_format: "sse"`
//! a 400), carried to the answer by `Asked::answer_type`, and the answer: candidate 0's L16
//! `inlineData` decoded, as `audio/pcm` or `audio/wav`, with the tokens `usageMetadata` counts.
//! Dropped: `instructions` (Gemini TTS takes no system instruction), `speed`.
//! Must never: answer audio of another type than it says, or 2xx without audio.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use super::wav::wav;
use crate::bridges::common::gemini_upstream::media_read::read_inline;
use crate::bridges::common::gemini_upstream::media_write::speech_request;
use crate::bridges::common::json::{invalid_answer, obj, opt, opt_str, req_str};
use crate::bridges::common::Side;
use crate::bridges::Asked;
use crate::providers::gemini::errors::filtered;
use crate::providers::gemini::media::{pcm_rate, TTS_RATE};
use crate::upstream::UpstreamError;
use crate::wire::{ConvertError, StopReason, Usage};
use bytes::Bytes;

const REQ: Side = Side::Request;
/// The answer's type for `response_format: "pcm"`.
pub(crate) const PCM: &str = "audio/pcm";
/// The answer's type for `response_format: "wav"` (and for none).
pub(crate) const WAV: &str = "audio/wav";

/// OpenAI's voices and the Gemini prebuilt voice each is sent as.
const VOICES: [(&str, &str); 13] = [
    ("alloy", "Kore"),
    ("ash", "Charon"),
    ("ballad", "Aoede"),
    ("coral", "Leda"),
    ("echo", "Puck"),
    ("fable", "Fenrir"),
    ("onyx", "Orus"),
    ("nova", "Zephyr"),
    ("sage", "Iapetus"),
    ("shimmer", "Callirrhoe"),
    ("verse", "Enceladus"),
    ("marin", "Despina"),
    ("cedar", "Algenib"),
];

/// The Gemini voice for an OpenAI `voice`.
fn voice(v: Option<&Value>) -> Result<&str, ConvertError> {
    match v {
        None => Err(REQ.err("voice is required")),
        Some(Value::String(name)) => Ok(VOICES
            .iter()
            .find(|(openai, _)| openai.eq_ignore_ascii_case(name))
            .map_or(name.as_str(), |(_, gemini)| gemini)),
        Some(_) => Err(REQ.err(
            "custom voices are not available for Gemini TTS models: name an OpenAI voice or a \
             Gemini prebuilt voice (Kore, Puck, ...)",
        )),
    }
}

/// The `generateContent` body for a TTS model, and the answer's type.
pub(crate) fn speech_request_to_gemini(req: &Value) -> Result<(Value, Asked), ConvertError> {
    let r = obj(req, "request body", REQ)?;
    let input = req_str(r, "input", "request", REQ)?;
    if input.trim().is_empty() {
        return Err(REQ.err("input must not be empty"));
    }
    let answer_type = match opt_str(r, "response_format", "request", REQ)? {
        Some("pcm") => PCM,
        None | Some("wav") => WAV,
        Some(f @ ("mp3" | "opus" | "aac" | "flac")) => {
            return Err(REQ.err(format!(
                "response_format {f} is not available for Gemini TTS models: they speak 24 kHz \
                 PCM, answered as pcm or wav"
            )))
        }
        Some(other) => {
            return Err(REQ.err(format!(
                "response_format must be one of mp3, opus, aac, flac, wav, pcm, not {other:?}"
            )))
        }
    };
    match opt_str(r, "stream_format", "request", REQ)? {
        None | Some("audio") => {}
        Some("sse") => {
            return Err(REQ.err(
                "stream_format sse is not available for Gemini TTS models: they answer whole",
            ))
        }
        Some(other) => {
            return Err(REQ.err(format!("stream_format must be audio or sse, not {other:?}")))
        }
    }
    let body = speech_request(input, voice(opt(r, "voice"))?);
    let asked = Asked {
        answer_type: Some(answer_type),
        ..Asked::default()
    };
    Ok((body, asked))
}

/// A TTS model's answer as the audio the client asked for.
pub(crate) fn gemini_speech_to_openai(
    v: &Value,
    asked: Asked,
) -> Result<(Bytes, Option<Usage>), UpstreamError> {
    let r = read_inline(v).map_err(invalid_answer)?;
    let Some(first) = r.media.first() else {
        if r.stop == Some(StopReason::ContentFilter) {
            let word = r.finish.as_deref().unwrap_or("none");
            return Err(UpstreamError::Status(Box::new(filtered(format!(
                "Your request was rejected by Google's safety filters: no speech was made ({word})"
            )))));
        }
        return Err(UpstreamError::Invalid(
            "the TTS model's answer holds no audio".to_owned(),
        ));
    };
    let rate = pcm_rate(&first.mime_type).ok_or_else(|| {
        UpstreamError::Invalid(format!(
            "the TTS model answered {}, not L16 PCM",
            first.mime_type
        ))
    })?;
    let mut pcm = Vec::new();
    for part in &r.media {
        if pcm_rate(&part.mime_type) != Some(rate) {
            return Err(UpstreamError::Invalid(
                "the TTS model's audio parts differ in type".to_owned(),
            ));
        }
        let bytes = STANDARD
            .decode(&part.data)
            .map_err(|_| UpstreamError::Invalid("the TTS audio is not base64".to_owned()))?;
        pcm.extend_from_slice(&bytes);
    }
    let audio = if asked.answer_type == Some(PCM) {
        if rate != TTS_RATE {
            return Err(UpstreamError::Invalid(format!(
                "the TTS model spoke at {rate} Hz; OpenAI's pcm is {TTS_RATE} Hz"
            )));
        }
        pcm
    } else {
        wav(&pcm, rate)
            .ok_or_else(|| UpstreamError::Invalid("the TTS audio is too long".to_owned()))?
    };
    Ok((Bytes::from(audio), r.usage))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(data: &[u8], mime: &str) -> Value {
        json!({"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":mime,
            "data":STANDARD.encode(data)}}]},"finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":25}})
    }

    #[test]
    fn requests_map_voices_and_formats() {
        let (v, asked) = speech_request_to_gemini(
            &json!({"model":"tts","input":"Hello","voice":"alloy","response_format":"pcm","speed":1.5}),
        )
        .unwrap();
        assert_eq!(asked.answer_type, Some(PCM));
        assert_eq!(v["contents"][0]["parts"][0]["text"], "Hello");
        assert_eq!(
            v["generationConfig"]["responseModalities"],
            json!(["AUDIO"])
        );
        assert_eq!(
            v["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]
                ["voiceName"],
            "Kore"
        );
        let (v, asked) =
            speech_request_to_gemini(&json!({"input":"Hi","voice":"Puck","stream_format":"audio"}))
                .unwrap();
        assert_eq!(asked.answer_type, Some(WAV));
        assert_eq!(
            v["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]
                ["voiceName"],
            "Puck"
        );
        for (bad, says) in [
            (
                json!({"input":"a","voice":"alloy","response_format":"mp3"}),
                "mp3 is not available",
            ),
            (
                json!({"input":"a","voice":"alloy","response_format":"flac"}),
                "flac",
            ),
            (
                json!({"input":"a","voice":"alloy","response_format":"ogg"}),
                "must be one of",
            ),
            (
                json!({"input":"a","voice":"alloy","stream_format":"sse"}),
                "sse",
            ),
            (
                json!({"input":"a","voice":{"id":"voice_1"}}),
                "custom voices",
            ),
            (json!({"input":"a"}), "voice is required"),
            (json!({"input":"","voice":"alloy"}), "input"),
        ] {
            match speech_request_to_gemini(&bad) {
                Err(ConvertError::InvalidRequest(m)) => assert!(m.contains(says), "{m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn answers_are_pcm_or_wav_of_the_same_samples() {
        let samples: Vec<u8> = (0..96u8).collect();
        let v = answer(&samples, "audio/L16;codec=pcm;rate=24000");
        let pcm = Asked {
            answer_type: Some(PCM),
            ..Asked::default()
        };
        let (body, usage) = gemini_speech_to_openai(&v, pcm).unwrap();
        assert_eq!(&body[..], &samples[..]);
        assert_eq!(usage.unwrap().completion_tokens, 25);
        let wav_asked = Asked {
            answer_type: Some(WAV),
            ..Asked::default()
        };
        let (body, _) = gemini_speech_to_openai(&v, wav_asked).unwrap();
        assert_eq!(&body[..4], b"RIFF");
        assert_eq!(&body[44..], &samples[..]);
        let slow = answer(&samples, "audio/L16;rate=16000");
        assert!(gemini_speech_to_openai(&slow, pcm).is_err());
        let (body, _) = gemini_speech_to_openai(&slow, wav_asked).unwrap();
        assert_eq!(
            u32::from_le_bytes([body[24], body[25], body[26], body[27]]),
            16_000
        );
        assert!(gemini_speech_to_openai(&answer(&samples, "audio/mpeg"), pcm).is_err());
        assert!(matches!(
            gemini_speech_to_openai(
                &json!({"candidates":[{"finishReason":"SAFETY","index":0}]}),
                pcm
            ),
            Err(UpstreamError::Status(_))
        ));
        assert!(matches!(
            gemini_speech_to_openai(
                &json!({"candidates":[{"finishReason":"STOP","index":0}]}),
                pcm
            ),
            Err(UpstreamError::Invalid(_))
        ));
    }
}
