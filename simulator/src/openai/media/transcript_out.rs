//! A transcript in each `response_format` (json, text, srt, vtt, verbose_json) and as a
//! `transcript.text.delta` / `transcript.text.done` stream (`data:` lines only).
//! Owns transcript shapes; must never read uploads.

use http::StatusCode;
use serde_json::{json, Value};

use crate::gen::words::Plan;
use crate::http::reply::{event, SimReply};

/// Words per segment.
const SEGMENT: usize = 8;

/// A transcript decided on: its words, the clip's length, how it is billed.
pub(crate) struct Transcript {
    pub(crate) plan: Plan,
    pub(crate) seconds: f64,
    /// `transcribe` or `translate`.
    pub(crate) task: &'static str,
    /// whisper-1 bills by duration, the gpt-4o models by tokens.
    pub(crate) by_duration: bool,
    pub(crate) prompt_tokens: u64,
    pub(crate) words_granularity: bool,
}

impl Transcript {
    fn usage(&self) -> Value {
        if self.by_duration {
            return json!({"type": "duration", "seconds": self.seconds.ceil() as u64});
        }
        let audio = (self.seconds * 10.0).ceil() as u64;
        let input = audio + self.prompt_tokens;
        let output = self.plan.words.len() as u64;
        json!({"type": "tokens", "input_tokens": input,
            "input_token_details": {"text_tokens": self.prompt_tokens, "audio_tokens": audio},
            "output_tokens": output, "total_tokens": input + output})
    }

    /// Segments as (start, end, text), spread evenly over the clip.
    fn segments(&self) -> Vec<(f64, f64, String)> {
        let total = self.plan.words.len().max(1) as f64;
        self.plan
            .words
            .chunks(SEGMENT)
            .enumerate()
            .map(|(i, words)| {
                let first = (i * SEGMENT) as f64;
                let start = self.seconds * first / total;
                let end = self.seconds * (first + words.len() as f64) / total;
                (start, end, words.join(" "))
            })
            .collect()
    }

    fn text(&self) -> String {
        self.plan.text()
    }

    /// The answer in `format` (already checked).
    pub(crate) fn reply(&self, format: &str) -> SimReply {
        let text_reply = |s: String| SimReply::binary("text/plain; charset=utf-8", s.into(), true);
        match format {
            "text" => text_reply(format!("{}\n", self.text())),
            "srt" => text_reply(self.cues(false)),
            "vtt" => text_reply(format!("WEBVTT\n\n{}", self.cues(true))),
            "verbose_json" => SimReply::json(StatusCode::OK, &self.verbose()),
            _ => SimReply::json(
                StatusCode::OK,
                &json!({"text": self.text(), "usage": self.usage()}),
            ),
        }
    }

    fn cues(&self, vtt: bool) -> String {
        let stamp = |t: f64| {
            let ms = (t * 1000.0).round() as u64;
            let sep = if vtt { '.' } else { ',' };
            format!(
                "{:02}:{:02}:{:02}{sep}{:03}",
                ms / 3_600_000,
                ms / 60_000 % 60,
                ms / 1000 % 60,
                ms % 1000
            )
        };
        let mut out = String::new();
        for (i, (start, end, text)) in self.segments().into_iter().enumerate() {
            if !vtt {
                out.push_str(&format!("{}\n", i + 1));
            }
            out.push_str(&format!("{} --> {}\n{text}\n\n", stamp(start), stamp(end)));
        }
        out
    }

    fn verbose(&self) -> Value {
        let segments: Vec<Value> = self
            .segments()
            .into_iter()
            .enumerate()
            .map(|(i, (start, end, text))| {
                json!({"id": i, "seek": 0, "start": start, "end": end, "text": format!(" {text}"),
                    "tokens": [], "temperature": 0.0, "avg_logprob": -0.25,
                    "compression_ratio": 1.2, "no_speech_prob": 0.01})
            })
            .collect();
        let mut body = json!({"task": self.task, "language": "english", "duration": self.seconds,
            "text": self.text(), "segments": segments, "usage": self.usage()});
        if self.words_granularity {
            let per = self.seconds / self.plan.words.len().max(1) as f64;
            let words: Vec<Value> = self
                .plan
                .words
                .iter()
                .enumerate()
                .map(|(i, w)| json!({"word": w, "start": per * i as f64, "end": per * (i + 1) as f64}))
                .collect();
            body["words"] = Value::from(words);
        }
        body
    }

    /// The stream: one delta per word, then `done` with the text and usage.
    pub(crate) fn stream(&self) -> SimReply {
        let mut events: Vec<_> = self
            .plan
            .deltas()
            .map(|d| event(None, &json!({"type": "transcript.text.delta", "delta": d})))
            .collect();
        events.push(event(
            None,
            &json!({"type": "transcript.text.done", "text": self.text(), "usage": self.usage()}),
        ));
        SimReply::sse(events)
    }
}
