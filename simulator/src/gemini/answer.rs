//! The answer to a `generateContent` request: its candidates (words, a JSON text or a
//! function call; thoughts), how each ends, and the token counts.
//! Owns finish reasons and token arithmetic; must never lay out JSON.

use super::generation::Media;
use super::models::Spec;
use super::request::Generate;
use super::safety::{self, Finish};
use super::tools::{lower_types, Call};
use crate::gen::tools::{arguments, fragments};
use crate::gen::words::{self, Finish as Ended};
use crate::gen::{audio, image};

/// What a candidate says.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// Text, in the pieces it streams as (one token each).
    Text(Vec<String>),
    Call(Call),
}

/// An `inlineData` part a candidate ends with (an image, or speech).
#[derive(Clone, Debug)]
pub(crate) struct InlineData {
    pub(crate) mime_type: &'static str,
    /// Base64 of the bytes.
    pub(crate) data: String,
    /// `IMAGE` or `AUDIO`, in `candidatesTokensDetails`.
    pub(crate) modality: &'static str,
    pub(crate) tokens: u64,
}

/// One candidate.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub(crate) reply: Reply,
    pub(crate) finish: Finish,
    /// Thought pieces shown (`includeThoughts`); thoughts are counted either way.
    pub(crate) thoughts: Vec<String>,
    pub(crate) inline: Option<InlineData>,
}

impl Candidate {
    /// Its text tokens: one per text piece; a call's argument fragments plus one.
    pub(crate) fn text_tokens(&self) -> u64 {
        match &self.reply {
            Reply::Text(pieces) => pieces.len() as u64,
            Reply::Call(c) => call_tokens(c),
        }
    }

    /// All its tokens, media included.
    pub(crate) fn tokens(&self) -> u64 {
        self.text_tokens() + self.inline.as_ref().map_or(0, |m| m.tokens)
    }
}

/// Tokens of one generated image (Google bills a 1024x1024 image as 1290).
const IMAGE_TOKENS: u64 = 1290;
/// Tokens per second of generated speech (Google counts 25).
const AUDIO_TOKENS_PER_SEC: u64 = 25;

/// The media part of candidate `i` for `media`, and whether it replaces the text.
fn inline(media: &Media, prompt: &str, i: u64) -> Option<(InlineData, bool)> {
    use base64::Engine;
    let b64 = |b: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(b);
    let seed = words::hash(prompt.as_bytes()) ^ (i + 1).wrapping_mul(0x9e37_79b9);
    match media {
        Media::None => None,
        Media::Image(ratio) => {
            let (w, h) = image::dimensions(&ratio.replace(':', "x"));
            Some((
                InlineData {
                    mime_type: "image/png",
                    data: b64(image::png(seed, w, h)),
                    modality: "IMAGE",
                    tokens: IMAGE_TOKENS,
                },
                false,
            ))
        }
        Media::Audio => {
            let ms = audio::speech_ms(prompt.chars().count(), 1.0);
            Some((
                InlineData {
                    mime_type: "audio/L16;codec=pcm;rate=24000",
                    data: b64(audio::speech(audio::Format::Pcm, seed, ms)),
                    modality: "AUDIO",
                    tokens: (ms * AUDIO_TOKENS_PER_SEC).div_ceil(1000),
                },
                true,
            ))
        }
    }
}

/// The tokens of a function call.
pub(crate) fn call_tokens(c: &Call) -> u64 {
    fragments(&c.args.to_string()).len() as u64 + 1
}

/// A whole answer.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    pub(crate) model: String,
    pub(crate) response_id: String,
    /// No candidates: the prompt was blocked (`promptFeedback.blockReason`).
    pub(crate) blocked: bool,
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) prompt_tokens: u64,
    /// The part of `prompt_tokens` that media parts cost.
    pub(crate) media_tokens: u64,
    pub(crate) thoughts_tokens: u64,
}

impl Answer {
    pub(crate) fn candidates_tokens(&self) -> u64 {
        self.candidates.iter().map(Candidate::tokens).sum()
    }
}

/// The text of a JSON answer: the schema's placeholder object, or the words as a string.
fn json_pieces(schema: Option<&serde_json::Value>, words: &words::Plan) -> Vec<String> {
    match schema {
        Some(s) => fragments(&arguments(Some(&lower_types(s))).to_string()),
        None => {
            let mut pieces: Vec<String> = words.deltas().collect();
            match pieces.as_mut_slice() {
                [] => pieces.push("\"\"".to_owned()),
                [only] => *only = format!("\"{only}\""),
                [first, .., last] => {
                    first.insert(0, '"');
                    last.push('"');
                }
            }
            pieces
        }
    }
}

/// The answer of `model` (of `spec`) to `req`; `response_id` names it.
pub(crate) fn build(model: &str, spec: Spec, req: &Generate, response_id: String) -> Answer {
    let prompt = &req.prompt.text;
    let g = &req.generation;
    let blocked = safety::blocks_prompt(prompt);
    let asked = safety::asked_finish(prompt);
    let mut thoughts_tokens = 0;
    let candidates = (0..if blocked { 0 } else { g.candidates })
        .map(|i| {
            let thoughts = g
                .thoughts
                .map(|n| words::plan(prompt, 1000 + i, Some(n), &[]))
                .filter(|_| spec.embedding.is_none());
            thoughts_tokens += thoughts.as_ref().map_or(0, |t| t.words.len() as u64);
            let shown = match (&thoughts, g.include_thoughts) {
                (Some(t), true) => t.deltas().collect(),
                _ => Vec::new(),
            };
            let (reply, finish) = match (&req.call, &g.json) {
                (Some(call), _) => (Reply::Call(call.clone()), Finish::Stop),
                (None, json) => {
                    let plan = words::plan(prompt, i, g.max_tokens, &g.stops);
                    let finish = match plan.finish {
                        Ended::Length => Finish::MaxTokens,
                        Ended::Natural | Ended::StopSequence(_) => Finish::Stop,
                    };
                    let mut pieces = match json {
                        Some(schema) => json_pieces(schema.as_ref(), &plan),
                        None => plan.deltas().collect(),
                    };
                    match asked {
                        Some(f) => {
                            pieces.truncate(pieces.len() / 2);
                            (Reply::Text(pieces), f)
                        }
                        None => (Reply::Text(pieces), finish),
                    }
                }
            };
            let (reply, inline) = match inline(&g.media, prompt, i) {
                Some((m, true)) => (Reply::Text(Vec::new()), Some(m)),
                Some((m, false)) => (reply, Some(m)),
                None => (reply, None),
            };
            Candidate {
                reply,
                finish,
                thoughts: shown,
                inline,
            }
        })
        .collect();
    Answer {
        model: model.to_owned(),
        response_id,
        blocked,
        candidates,
        prompt_tokens: req.prompt.tokens,
        media_tokens: req.prompt.media * super::content::MEDIA_TOKENS,
        thoughts_tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemini::request;

    fn answer(model: &str, body: &str) -> Answer {
        let spec = Spec::of(model);
        let req = request::generate(body.as_bytes(), spec).unwrap();
        build(model, spec, &req, "r".into())
    }

    #[test]
    fn lengths_finishes_and_thoughts() {
        let a = answer(
            "gemini-2.0-flash",
            r#"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":5}}"#,
        );
        assert_eq!(a.candidates_tokens(), 5);
        assert_eq!(a.candidates[0].finish, Finish::MaxTokens);
        assert_eq!(a.thoughts_tokens, 0);
        let a = answer(
            "gemini-2.5-flash",
            r#"{"contents":[{"parts":[{"text":"hi"}]}]}"#,
        );
        assert_eq!((a.candidates_tokens(), a.thoughts_tokens), (12, 8));
        assert_eq!(a.candidates[0].finish, Finish::Stop);
        assert!(a.candidates[0].thoughts.is_empty());
        let a = answer(
            "gemini-2.0-flash",
            r#"{"contents":[{"parts":[{"text":"hi SIM_FINISH_SAFETY"}]}]}"#,
        );
        assert_eq!(
            (a.candidates_tokens(), a.candidates[0].finish),
            (6, Finish::Safety)
        );
        let a = answer(
            "gemini-2.0-flash",
            r#"{"contents":[{"parts":[{"text":"SIM_BLOCK_PROMPT"}]}]}"#,
        );
        assert!(a.blocked && a.candidates.is_empty());
    }

    #[test]
    fn json_answers_parse() {
        let text = |a: &Answer| match &a.candidates[0].reply {
            Reply::Text(p) => p.concat(),
            Reply::Call(_) => String::new(),
        };
        let a = answer(
            "gemini-2.0-flash",
            r#"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"responseMimeType":"application/json"}}"#,
        );
        assert!(
            serde_json::from_str::<String>(&text(&a)).is_ok(),
            "{}",
            text(&a)
        );
        let a = answer(
            "gemini-2.0-flash",
            r#"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"n":{"type":"NUMBER"}},"required":["n"]}}}"#,
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text(&a)).unwrap(),
            serde_json::json!({"n": 1})
        );
    }
}
