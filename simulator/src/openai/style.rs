//! How an OpenAI-shaped server writes an answer it has decided on: member order and presence,
//! spacing, ids, where the finish reason and the usage go in a stream, and its quirks. OpenAI's
//! own way is [`Style::OPENAI`]; each OpenAI-compatible dialect (`dialects.rs`) is one more row
//! of the same data.
//! Owns the layout of chat and completions answers (objects, choices, chunks, events); must
//! never decide what is said (words, tool calls and usage come from `answer.rs`).

use bytes::Bytes;
use http::StatusCode;
use serde_json::{json, Map, Value};

use super::answer::Usage;
use super::spacing::{to_text, Spacing};
use crate::gen::ids::Ids;
use crate::gen::words::hash;
use crate::http::reply::{raw_event, Payload, SimReply};

/// A top-level member of an answer object or chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Member {
    Id,
    Object,
    Created,
    Model,
    Fingerprint,
    Choices,
    Usage,
}

/// How ids look after their prefix (`chatcmpl-`, `cmpl-`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdStyle {
    /// 24 hex digits (the simulator's OpenAI).
    Hex,
    /// 32 hex digits (vLLM's `random_uuid()`).
    Hex32,
    /// A UUID with dashes (LiteLLM).
    Uuid,
    /// A number below 999 (Ollama's `rand.Intn(999)`).
    Number,
    /// 32 letters and digits (llama.cpp).
    Alnum,
}

/// Where a stream says why a choice ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FinishAt {
    /// A chunk of its own with an empty delta (OpenAI).
    OwnChunk,
    /// On the chunk that carries the last content (vLLM).
    LastContent,
    /// Nowhere: `finish_reason` stays null and the stream just ends.
    Never,
}

/// Where a stream carries its usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UsageAt {
    /// A last chunk of its own with `"choices": []` (OpenAI).
    OwnChunk,
    /// A last chunk of its own whose `choices` hold one empty choice (`[{"index":0,"delta":{}}]`).
    OwnChunkEmptyChoice,
    /// On the chunk that carries the finish reason.
    FinishChunk,
    /// On the last chunk, whatever it carries.
    LastChunk,
}

/// One server's way of writing answers. Every field is data; see `dialects.rs` for the rows.
#[derive(Debug)]
pub(crate) struct Style {
    pub(crate) spacing: Spacing,
    /// Top-level members in the order written; a member not listed is never written.
    pub(crate) members: &'static [Member],
    pub(crate) fingerprint: &'static str,
    pub(crate) ids: IdStyle,
    /// A choice starts with `finish_reason` (then `index`) instead of ending with it.
    pub(crate) finish_first: bool,
    /// `"finish_reason": null` is written while a choice is open (else left out).
    pub(crate) null_finish: bool,
    /// `"logprobs": null` is written in every choice.
    pub(crate) null_logprobs: bool,
    /// vLLM: `"stop_reason": null` beside every finish reason.
    pub(crate) stop_reason: bool,
    /// `"usage": null` on every chunk but the usage one, when usage is sent.
    pub(crate) null_usage: bool,
    /// The first chunk's delta is `{"role":"assistant","content":null}` (else `"content":""`).
    pub(crate) first_content_null: bool,
    /// Every delta repeats `"role":"assistant"` and a `content` (Ollama).
    pub(crate) role_every_chunk: bool,
    /// A tool call comes whole in one chunk instead of argument fragments (Ollama).
    pub(crate) whole_tool_call: bool,
    pub(crate) finish_at: FinishAt,
    pub(crate) usage_at: UsageAt,
    /// Stream usage is sent even when the request did not ask for it.
    pub(crate) usage_unasked: bool,
    /// Usage has OpenAI's `*_tokens_details` objects.
    pub(crate) usage_details: bool,
    /// llama.cpp: a `timings` object beside the stream usage.
    pub(crate) timings: bool,
    /// The finish reason of a streamed / non-streamed answer that is a tool call.
    pub(crate) tool_finish_stream: &'static str,
    pub(crate) tool_finish_json: &'static str,
    /// A `"stream": true` request gets the complete JSON answer (`application/json`).
    pub(crate) stream_as_json: bool,
    /// Any model name is served (a server of its own models), not only OpenAI's prefixes.
    pub(crate) any_model: bool,
}

/// One streamed piece of one choice, before the style lays it out: a delta object (chat) or a
/// text string (completions), and the finish reason if the piece ends the choice.
#[derive(Clone, Debug)]
pub(crate) struct Piece {
    pub(crate) index: usize,
    pub(crate) body: Value,
    pub(crate) finish: Option<&'static str>,
}

impl Piece {
    pub(crate) fn new(index: usize, body: Value) -> Self {
        Piece {
            index,
            body,
            finish: None,
        }
    }

    /// The piece that ends choice `index` (an empty delta or empty text).
    pub(crate) fn finish(index: usize, empty: Value, reason: &'static str) -> Self {
        Piece {
            index,
            body: empty,
            finish: Some(reason),
        }
    }

    fn is_empty(&self) -> bool {
        match &self.body {
            Value::Object(m) => m.is_empty(),
            Value::String(s) => s.is_empty(),
            _ => false,
        }
    }
}

/// What every chunk of one stream shares.
pub(crate) struct Frame<'a> {
    pub(crate) id: &'a str,
    pub(crate) object: &'static str,
    pub(crate) created: u64,
    pub(crate) model: &'a str,
    /// The member that holds a choice's content: `delta`, `message` or `text`.
    pub(crate) body_key: &'static str,
}

impl Style {
    /// A fresh id in this style, e.g. `chatcmpl-…`.
    pub(crate) fn id(&self, ids: &Ids, prefix: &str) -> String {
        let raw = ids.next("");
        // 32 hex digits: the 24 of a fresh id and 8 more derived from them.
        let hex32 = || format!("{:08x}{raw}", hash(raw.as_bytes()) as u32);
        match self.ids {
            IdStyle::Hex => format!("{prefix}{raw}"),
            IdStyle::Hex32 => format!("{prefix}{}", hex32()),
            IdStyle::Uuid => {
                let h = hex32();
                format!(
                    "{prefix}{}-{}-4{}-a{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[13..16],
                    &h[17..20],
                    &h[20..32]
                )
            }
            IdStyle::Number => format!("{prefix}{}", hash(raw.as_bytes()) % 999),
            IdStyle::Alnum => {
                const ALNUM: &[u8] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
                let mut state = hash(raw.as_bytes());
                let tail: String = (0..32)
                    .map(|_| {
                        state = crate::gen::words::splitmix(&mut state);
                        char::from(ALNUM[(state % ALNUM.len() as u64) as usize])
                    })
                    .collect();
                format!("{prefix}{tail}")
            }
        }
    }

    /// One choice: its content under `key`, and its finish reason (None: still open).
    pub(crate) fn choice(
        &self,
        index: usize,
        key: &str,
        body: Value,
        finish: Option<&str>,
    ) -> Value {
        let mut c = Map::new();
        let finish_value = finish.map_or(Value::Null, Value::from);
        let write_finish = finish.is_some() || self.null_finish;
        if self.finish_first && write_finish {
            c.insert("finish_reason".into(), finish_value.clone());
        }
        // Completions choices start with their text; chat ones with the index.
        if key == "text" {
            c.insert(key.into(), body);
            c.insert("index".into(), index.into());
        } else {
            c.insert("index".into(), index.into());
            c.insert(key.into(), body);
        }
        if self.null_logprobs {
            c.insert("logprobs".into(), Value::Null);
        }
        if !self.finish_first && write_finish {
            c.insert("finish_reason".into(), finish_value);
        }
        if self.stop_reason && finish.is_some() {
            c.insert("stop_reason".into(), Value::Null);
        }
        Value::Object(c)
    }

    /// An answer object or chunk with this style's members, in its order.
    pub(crate) fn frame(&self, f: &Frame<'_>, choices: Value, usage: Option<Value>) -> Value {
        let mut o = Map::new();
        let with_usage = usage.is_some();
        let mut usage = usage;
        for m in self.members {
            match m {
                Member::Id => o.insert("id".into(), f.id.into()),
                Member::Object => o.insert("object".into(), f.object.into()),
                Member::Created => o.insert("created".into(), f.created.into()),
                Member::Model => o.insert("model".into(), f.model.into()),
                Member::Fingerprint => {
                    o.insert("system_fingerprint".into(), self.fingerprint.into())
                }
                Member::Choices => o.insert("choices".into(), choices.clone()),
                Member::Usage => usage.take().and_then(|u| o.insert("usage".into(), u)),
            };
        }
        if self.timings && with_usage && o.get("usage").is_some_and(|u| !u.is_null()) {
            o.insert("timings".into(), timings(o.get("usage")));
        }
        Value::Object(o)
    }

    /// The `usage` object of a chat answer.
    pub(crate) fn usage(&self, u: Usage) -> Value {
        if self.usage_details {
            return u.to_json();
        }
        plain_usage(u)
    }

    /// The finish reason of a choice that is a tool call.
    pub(crate) fn tool_finish(&self, stream: bool) -> &'static str {
        if stream {
            self.tool_finish_stream
        } else {
            self.tool_finish_json
        }
    }

    /// The first delta of a chat choice.
    pub(crate) fn first_delta(&self) -> Value {
        let content = if self.first_content_null {
            Value::Null
        } else {
            Value::from("")
        };
        json!({"role": "assistant", "content": content})
    }

    /// A complete JSON answer in this style's spacing.
    pub(crate) fn reply(&self, status: StatusCode, v: &Value) -> SimReply {
        SimReply {
            status,
            headers: http::HeaderMap::new(),
            payload: Payload::Json(Bytes::from(to_text(v, self.spacing))),
        }
    }

    /// The SSE events of a stream: `pieces` laid out as this style does, usage where it puts it
    /// (when `asked`, or always if it sends usage unasked), `[DONE]` last.
    pub(crate) fn stream(
        &self,
        f: &Frame<'_>,
        pieces: Vec<Piece>,
        usage: Value,
        asked: bool,
    ) -> Vec<Bytes> {
        let pieces = self.place_finish(pieces);
        let send_usage = asked || self.usage_unasked;
        let mut chunks: Vec<(Value, Option<Value>)> = pieces
            .into_iter()
            .map(|p| {
                let body = self.delta_of(f, p.body);
                let c = self.choice(p.index, f.body_key, body, p.finish);
                (Value::Array(vec![c]), None)
            })
            .collect();
        if send_usage {
            let at = match self.usage_at {
                UsageAt::OwnChunk => None,
                UsageAt::OwnChunkEmptyChoice => None,
                UsageAt::FinishChunk => chunks
                    .iter()
                    .rposition(|(c, _)| c[0]["finish_reason"].is_string())
                    .or(chunks.len().checked_sub(1)),
                UsageAt::LastChunk => chunks.len().checked_sub(1),
            };
            match (at, self.usage_at) {
                (Some(i), _) => chunks[i].1 = Some(usage),
                (None, UsageAt::OwnChunkEmptyChoice) => {
                    let empty = self.choice(0, f.body_key, empty_body(f), None);
                    chunks.push((Value::Array(vec![empty]), Some(usage)));
                }
                (None, _) => chunks.push((Value::Array(Vec::new()), Some(usage))),
            }
            if self.null_usage {
                for (_, u) in chunks.iter_mut().filter(|(_, u)| u.is_none()) {
                    *u = Some(Value::Null);
                }
            }
        }
        let mut out: Vec<Bytes> = chunks
            .into_iter()
            .map(|(choices, usage)| self.event(&self.frame(f, choices, usage)))
            .collect();
        out.push(raw_event(None, "[DONE]"));
        out
    }

    fn event(&self, v: &Value) -> Bytes {
        raw_event(None, &to_text(v, self.spacing))
    }

    /// Moves each finish reason where this style writes it.
    fn place_finish(&self, pieces: Vec<Piece>) -> Vec<Piece> {
        let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
        for p in pieces {
            let ends_only = p.finish.is_some() && p.is_empty();
            match self.finish_at {
                FinishAt::Never if ends_only => continue,
                FinishAt::Never => out.push(Piece { finish: None, ..p }),
                FinishAt::LastContent if ends_only => {
                    match out.iter_mut().rev().find(|q| q.index == p.index) {
                        Some(last) => last.finish = p.finish,
                        None => out.push(p),
                    }
                }
                FinishAt::LastContent | FinishAt::OwnChunk => out.push(p),
            }
        }
        out
    }

    /// A chat delta with the members this style repeats on every chunk.
    fn delta_of(&self, f: &Frame<'_>, body: Value) -> Value {
        match body {
            Value::Object(d) if self.role_every_chunk && f.body_key == "delta" => {
                let mut full = Map::new();
                full.insert("role".into(), "assistant".into());
                full.insert(
                    "content".into(),
                    d.get("content").cloned().unwrap_or_else(|| Value::from("")),
                );
                full.extend(d.into_iter().filter(|(k, _)| k != "role" && k != "content"));
                Value::Object(full)
            }
            other => other,
        }
    }
}

/// A `usage` object with the three counts only (completions, and most compatible servers).
pub(crate) fn plain_usage(u: Usage) -> Value {
    json!({
        "prompt_tokens": u.prompt,
        "completion_tokens": u.completion,
        "total_tokens": u.prompt + u.completion + u.reasoning,
    })
}

fn empty_body(f: &Frame<'_>) -> Value {
    if f.body_key == "text" {
        Value::from("")
    } else {
        json!({})
    }
}

/// llama.cpp's `timings` object, derived from the usage so it is deterministic.
fn timings(usage: Option<&Value>) -> Value {
    let n = |k: &str| usage.and_then(|u| u[k].as_u64()).unwrap_or(0);
    let (prompt, predicted) = (n("prompt_tokens"), n("completion_tokens"));
    json!({
        "prompt_n": prompt, "prompt_ms": prompt as f64 * 0.25,
        "predicted_n": predicted, "predicted_ms": predicted as f64 * 4.0,
    })
}
