//! `POST /v1/audio/speech` (JSON): audio in the `response_format` asked for, sent chunked as
//! it is "spoken"; or with `stream_format: "sse"`, `speech.audio.delta` events (base64
//! chunks; `data:` lines only, whether OpenAI adds `event:` lines is unconfirmed) and a
//! `speech.audio.done` with token usage.
//! Owns the speech rules; must never read the clock.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use base64::Engine;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::errors::{media, ApiError};
use crate::gen::audio::{speech, speech_ms, Format};
use crate::gen::{text, words::hash};
use crate::headers::respond;
use crate::http::reply::{event, SimReply, BINARY_CHUNK};
use crate::openai::{common, Api};

const VOICES: [&str; 13] = [
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse",
    "marin", "cedar",
];
const MAX_INPUT: usize = 4096;

#[derive(Deserialize)]
struct SpeechRequest {
    model: Option<String>,
    input: Option<String>,
    voice: Option<Value>,
    instructions: Option<String>,
    response_format: Option<String>,
    speed: Option<f64>,
    stream_format: Option<String>,
}

pub(crate) async fn handle(State(api): State<Api>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let result = answer(&api, &headers, &body);
    respond(api.ctx.provider, &api.ctx.shared.ids, started, result)
}

fn too_long(param: &'static str, len: usize) -> ApiError {
    let mut e = ApiError::invalid(format!(
        "Invalid '{param}': string too long. Expected a string with maximum length {MAX_INPUT}, but got a string with length {len} instead."
    ));
    e.param = Some(param);
    e
}

fn answer(api: &Api, headers: &HeaderMap, body: &[u8]) -> Result<SimReply, ApiError> {
    common::check_auth(api.ctx.provider, headers)?;
    let req: SpeechRequest = common::parse(body)?;
    let model = api.model(req.model)?;
    let classic = model.starts_with("tts-1");
    let input = req
        .input
        .filter(|i| !i.is_empty())
        .ok_or_else(|| common::missing("input"))?;
    let chars = input.chars().count();
    if chars > MAX_INPUT {
        return Err(too_long("input", chars));
    }
    match &req.voice {
        None => return Err(common::missing("voice")),
        Some(Value::String(v)) if !VOICES.contains(&v.as_str()) => {
            let list: Vec<String> = VOICES.iter().map(|v| format!("'{v}'")).collect();
            return Err(media::invalid_value("voice", v, &list.join(", ")));
        }
        Some(Value::String(_)) => {}
        Some(Value::Object(o)) if o.get("id").is_some_and(Value::is_string) => {}
        Some(other) => {
            return Err(media::invalid_value(
                "voice",
                &other.to_string(),
                "a voice name or {\"id\": ...}",
            ))
        }
    }
    if let Some(i) = &req.instructions {
        if classic {
            return Err(ApiError::invalid(
                "Instructions are not supported for tts-1 and tts-1-hd.",
            ));
        }
        if i.chars().count() > MAX_INPUT {
            return Err(too_long("instructions", i.chars().count()));
        }
    }
    let word = req.response_format.as_deref().unwrap_or("mp3");
    let format = Format::parse(word).ok_or_else(|| {
        media::invalid_value(
            "response_format",
            word,
            "'mp3', 'opus', 'aac', 'flac', 'wav', and 'pcm'",
        )
    })?;
    let speed = req.speed.unwrap_or(1.0);
    if !(0.25..=4.0).contains(&speed) {
        let mut e = ApiError::invalid(format!(
            "Invalid 'speed': {speed}. Expected a value between 0.25 and 4."
        ));
        e.param = Some("speed");
        return Err(e);
    }
    let ms = speech_ms(chars, speed);
    let audio = Bytes::from(speech(format, hash(input.as_bytes()), ms));
    match req.stream_format.as_deref() {
        None | Some("audio") => Ok(SimReply::binary(format.content_type(), audio, false)),
        Some("sse") if classic => Err(ApiError::invalid(
            "stream_format 'sse' is not supported for tts-1 and tts-1-hd.",
        )),
        Some("sse") => {
            let mut events: Vec<Bytes> = audio
                .chunks(BINARY_CHUNK)
                .map(|c| {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(c);
                    event(None, &json!({"type": "speech.audio.delta", "audio": b64}))
                })
                .collect();
            let input_tokens = text::words(&input).max(1);
            let output_tokens = ms / 20;
            events.push(event(
                None,
                &json!({"type": "speech.audio.done", "usage": {"input_tokens": input_tokens,
                    "output_tokens": output_tokens, "total_tokens": input_tokens + output_tokens}}),
            ));
            Ok(SimReply::sse(events))
        }
        Some(other) => Err(media::invalid_value(
            "stream_format",
            other,
            "'audio' and 'sse'",
        )),
    }
}
