//! `POST /v1/audio/transcriptions` and `/v1/audio/translations` (multipart): the upload is
//! streamed (never held), its length read from a WAV header or estimated from its size, and
//! the transcript derived from its content hash.
//! Owns the transcription rules (containers, models and formats); must never format answers.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;

use super::form::{self, AUDIO_LIMIT};
use super::transcript_out::Transcript;
use crate::errors::{media, ApiError};
use crate::gen::audio::duration_secs;
use crate::gen::{text, words};
use crate::headers::respond;
use crate::http::multipart::Form;
use crate::openai::{common, Api};

const CONTAINERS: [&str; 10] = [
    "flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm",
];
/// Words spoken per second of audio.
const WORDS_PER_SEC: f64 = 2.5;

/// Which endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Task {
    Transcribe,
    Translate,
}

pub(crate) async fn transcriptions(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run(api, headers, body, Task::Transcribe).await
}

pub(crate) async fn translations(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run(api, headers, body, Task::Translate).await
}

async fn run(api: Api, headers: HeaderMap, body: Body, task: Task) -> Response {
    let started = Instant::now();
    let result = match common::check_auth(api.ctx.provider, &headers) {
        Ok(()) => match form::read(&headers, body, AUDIO_LIMIT).await {
            Ok(f) => answer(&api, &f, task),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    respond(api.ctx.provider, &api.ctx.shared.ids, started, result)
}

/// The container of a file part: its filename's extension, else its content type's subtype.
fn container(name: Option<&str>, content_type: Option<&str>) -> Option<String> {
    let ext = name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    let sub = content_type
        .and_then(|c| c.split_once('/'))
        .map(|(_, s)| s.trim_start_matches("x-").to_ascii_lowercase());
    [ext, sub]
        .into_iter()
        .flatten()
        .find(|c| CONTAINERS.contains(&c.as_str()))
}

fn answer(api: &Api, form: &Form, task: Task) -> Result<crate::http::reply::SimReply, ApiError> {
    let model = api.model(form.text("model").map(str::to_owned))?;
    let file = *form
        .files(&["file"])
        .first()
        .ok_or_else(|| common::missing("file"))?;
    if container(file.filename.as_deref(), file.content_type.as_deref()).is_none() {
        return Err(media::invalid_file_format());
    }
    let whisper = model.starts_with("whisper");
    if task == Task::Translate && !whisper {
        return Err(media::invalid_value("model", &model, "'whisper-1'"));
    }
    let format = form.text("response_format").unwrap_or("json");
    let allowed: &[&str] = if whisper {
        &["json", "text", "srt", "verbose_json", "vtt"]
    } else if model.contains("diarize") {
        &["json", "text", "diarized_json"]
    } else {
        &["json"]
    };
    if !allowed.contains(&format) || format == "diarized_json" {
        let list: Vec<String> = allowed.iter().map(|f| format!("'{f}'")).collect();
        return Err(media::invalid_value(
            "response_format",
            format,
            &list.join(", "),
        ));
    }
    let seconds = duration_secs(&file.head, file.size);
    let count = ((seconds * WORDS_PER_SEC).round() as u64).clamp(1, words::MAX_WORDS);
    let plan = words::plan(&format!("{:016x}", file.hash), 0, Some(count), &[]);
    let transcript = Transcript {
        plan,
        seconds: (seconds * 100.0).round() / 100.0,
        task: match task {
            Task::Transcribe => "transcribe",
            Task::Translate => "translate",
        },
        by_duration: whisper,
        prompt_tokens: form.text("prompt").map_or(0, text::words),
        words_granularity: form
            .fields
            .iter()
            .any(|(n, v)| n == "timestamp_granularities[]" && v == "word"),
    };
    // `stream` is ignored by whisper-1, as OpenAI does.
    if form.flag("stream") && !whisper {
        return Ok(transcript.stream());
    }
    Ok(transcript.reply(format))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_by_name_or_type() {
        assert_eq!(container(Some("a.WAV"), None).as_deref(), Some("wav"));
        assert_eq!(
            container(Some("upload"), Some("audio/x-flac")).as_deref(),
            Some("flac")
        );
        assert_eq!(
            container(Some("a.txt"), Some("application/octet-stream")),
            None
        );
    }
}
