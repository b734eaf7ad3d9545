//! Wire shapes of Google answers: the `GenerateContentResponse` object, and its stream as
//! SSE (`data: {...}\r\n\r\n`, no event names, no terminator) or as a streamed JSON array.
//! Owns the JSON layout (Google's spacing included); must never decide what is said.

use std::io;

use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Value};

use super::answer::{call_tokens, Answer, Candidate, InlineData, Reply};
use super::safety::{self, Finish};
use crate::gen::ids::rfc3339;
use crate::http::reply::array_frames;
use crate::Provider;

/// Google's one-line JSON: a space after each colon, none after commas (as its SSE lines
/// are written).
struct OneLine;

impl serde_json::ser::Formatter for OneLine {
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
}

fn one_line(value: &impl Serialize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, OneLine);
    if value.serialize(&mut ser).is_err() {
        out.clear();
    }
    out
}

/// `usageMetadata` for `candidates` tokens so far; zero counts are left out, as proto3 JSON
/// leaves them out.
fn usage(provider: Provider, a: &Answer, candidates: u64) -> Value {
    let text = a.prompt_tokens - a.media_tokens;
    let mut details = vec![json!({"modality": "TEXT", "tokenCount": text})];
    if a.media_tokens > 0 {
        details.push(json!({"modality": "IMAGE", "tokenCount": a.media_tokens}));
    }
    let mut u = json!({"promptTokenCount": a.prompt_tokens,
        "totalTokenCount": a.prompt_tokens + candidates + a.thoughts_tokens,
        "promptTokensDetails": details});
    if candidates > 0 {
        u["candidatesTokenCount"] = candidates.into();
    }
    if a.thoughts_tokens > 0 {
        u["thoughtsTokenCount"] = a.thoughts_tokens.into();
    }
    let media: Vec<(&str, u64)> = a
        .candidates
        .iter()
        .filter_map(|c| c.inline.as_ref().map(|m| (m.modality, m.tokens)))
        .collect();
    if candidates > 0 && !media.is_empty() {
        let media_tokens: u64 = media.iter().map(|(_, t)| t).sum();
        let mut details = Vec::new();
        if candidates > media_tokens {
            details.push(json!({"modality": "TEXT", "tokenCount": candidates - media_tokens}));
        }
        details.push(json!({"modality": media[0].0, "tokenCount": media_tokens.min(candidates)}));
        u["candidatesTokensDetails"] = details.into();
    }
    if provider == Provider::Vertex {
        u["trafficType"] = "ON_DEMAND".into();
    }
    u
}

fn inline_part(m: &InlineData) -> Value {
    json!({"inlineData": {"mimeType": m.mime_type, "data": m.data}})
}

/// The fields every response and chunk ends with.
fn envelope(provider: Provider, a: &Answer, mut body: Value, candidates: u64) -> Value {
    if a.blocked {
        body["promptFeedback"] =
            json!({"blockReason": "SAFETY", "safetyRatings": safety::ratings(true)});
    }
    body["usageMetadata"] = usage(provider, a, candidates);
    body["modelVersion"] = a.model.clone().into();
    if provider == Provider::Vertex {
        body["createTime"] = rfc3339(crate::gen::ids::unix_now()).into();
    }
    body["responseId"] = a.response_id.clone().into();
    body
}

fn text_part(text: String, thought: bool) -> Value {
    if thought {
        json!({"text": text, "thought": true})
    } else {
        json!({ "text": text })
    }
}

/// A candidate's JSON with `parts` (none: no `content`) and, when it ends here, its finish.
fn candidate(index: usize, parts: Vec<Value>, finish: Option<Finish>) -> Value {
    let mut c = json!({});
    if !parts.is_empty() {
        c["content"] = json!({"parts": parts, "role": "model"});
    }
    if let Some(f) = finish {
        c["finishReason"] = f.word().into();
        if f == Finish::Safety {
            c["safetyRatings"] = safety::ratings(true);
        }
    }
    c["index"] = index.into();
    c
}

/// The non-streamed `GenerateContentResponse`.
pub(crate) fn response(provider: Provider, a: &Answer) -> Value {
    let candidates: Vec<Value> = a
        .candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut parts = Vec::new();
            if !c.thoughts.is_empty() {
                parts.push(text_part(c.thoughts.concat(), true));
            }
            match &c.reply {
                Reply::Text(p) if p.is_empty() && (c.finish.is_block() || c.inline.is_some()) => {}
                Reply::Text(p) => parts.push(text_part(p.concat(), false)),
                Reply::Call(call) => {
                    parts.push(json!({"functionCall": {"name": call.name, "args": call.args}}))
                }
            }
            if let Some(m) = &c.inline {
                parts.push(inline_part(m));
            }
            candidate(i, parts, Some(c.finish))
        })
        .collect();
    let body = if a.blocked {
        json!({})
    } else {
        json!({ "candidates": candidates })
    };
    envelope(provider, a, body, a.candidates_tokens())
}

/// One streamed step of a candidate: its part (none for a finish alone) and its tokens.
type Step = (Option<Value>, u64);

fn steps(c: &Candidate) -> Vec<Step> {
    let mut out: Vec<Step> = c
        .thoughts
        .iter()
        .map(|t| (Some(text_part(t.clone(), true)), 0))
        .collect();
    match &c.reply {
        Reply::Text(pieces) => out.extend(
            pieces
                .iter()
                .map(|p| (Some(text_part(p.clone(), false)), 1)),
        ),
        Reply::Call(call) => out.push((
            Some(json!({"functionCall": {"name": call.name, "args": call.args}})),
            call_tokens(call),
        )),
    }
    if let Some(m) = &c.inline {
        out.push((Some(inline_part(m)), m.tokens));
    }
    if c.finish.is_block() {
        // A filter's finish comes alone, in a last chunk without content.
        out.push((None, 0));
    } else if out.is_empty() {
        out.push((Some(text_part(String::new(), false)), 0));
    }
    out
}

/// The streamed chunks: chunk k holds each candidate's k-th step (its finish with its last),
/// and usage so far (thoughts counted from the first chunk, as Google does).
pub(crate) fn chunks(provider: Provider, a: &Answer) -> Vec<Value> {
    if a.blocked {
        return vec![envelope(provider, a, json!({}), 0)];
    }
    let per: Vec<Vec<Step>> = a.candidates.iter().map(steps).collect();
    let len = per.iter().map(Vec::len).max().unwrap_or(0);
    let mut so_far = 0;
    (0..len)
        .map(|k| {
            let cands: Vec<Value> = per
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let (part, tokens) = s.get(k)?;
                    so_far += tokens;
                    let finish = (k + 1 == s.len()).then_some(a.candidates[i].finish);
                    Some(candidate(i, part.iter().cloned().collect(), finish))
                })
                .collect();
            envelope(provider, a, json!({ "candidates": cands }), so_far)
        })
        .collect()
}

/// The chunks as Google's SSE events: one `data:` line each, CRLF line ends, no terminator.
pub(crate) fn sse(chunks: &[Value]) -> Vec<Bytes> {
    chunks
        .iter()
        .map(|c| {
            [b"data: ".as_slice(), &one_line(c), b"\r\n\r\n"]
                .concat()
                .into()
        })
        .collect()
}

/// The chunks as a streamed JSON array of pretty-printed elements.
pub(crate) fn array(chunks: &[Value]) -> Vec<Bytes> {
    array_frames(
        chunks
            .iter()
            .map(|c| serde_json::to_vec_pretty(c).unwrap_or_default()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemini::models::Spec;
    use crate::gemini::{answer, request};

    fn answer(model: &str, body: &str) -> Answer {
        let spec = Spec::of(model);
        answer::build(
            model,
            spec,
            &request::generate(body.as_bytes(), spec).unwrap(),
            "r".into(),
        )
    }

    fn text_of(chunks: &[Value]) -> String {
        chunks
            .iter()
            .flat_map(|c| {
                c["candidates"][0]["content"]["parts"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter(|p| p.get("thought").is_none())
            .filter_map(|p| p["text"].as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn stream_matches_the_whole() {
        let a = answer(
            "gemini-2.5-flash",
            r#"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true}}}"#,
        );
        let whole = response(Provider::Gemini, &a);
        let chunks = chunks(Provider::Gemini, &a);
        assert_eq!(chunks.len(), 8 + 12);
        assert_eq!(
            text_of(&chunks),
            whole["candidates"][0]["content"]["parts"][1]["text"]
                .as_str()
                .unwrap()
        );
        let last = chunks.last().unwrap();
        assert_eq!(last["usageMetadata"], whole["usageMetadata"]);
        assert_eq!(last["candidates"][0]["finishReason"], "STOP");
        assert!(chunks[0]["candidates"][0].get("finishReason").is_none());
        assert_eq!(whole["usageMetadata"]["totalTokenCount"], 3 + 1 + 12 + 8);
        let events = sse(&chunks);
        let line = String::from_utf8_lossy(&events[0]);
        assert!(
            line.starts_with("data: {\"candidates\": [{") && line.ends_with("}\r\n\r\n"),
            "{line}"
        );
    }

    #[test]
    fn blocked_shapes() {
        let a = answer(
            "gemini-2.0-flash",
            r#"{"contents":[{"parts":[{"text":"SIM_BLOCK_PROMPT"}]}]}"#,
        );
        let whole = response(Provider::Gemini, &a);
        assert!(whole.get("candidates").is_none());
        assert_eq!(whole["promptFeedback"]["blockReason"], "SAFETY");
        assert!(whole["usageMetadata"].get("candidatesTokenCount").is_none());
        let a = answer(
            "gemini-2.0-flash",
            r#"{"contents":[{"parts":[{"text":"SIM_FINISH_SAFETY"}]}]}"#,
        );
        let c = chunks(Provider::Vertex, &a);
        let last = c.last().unwrap();
        assert!(last["candidates"][0].get("content").is_none());
        assert_eq!(last["candidates"][0]["finishReason"], "SAFETY");
        assert!(last.get("createTime").is_some());
        assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 6);
    }

    #[test]
    fn arrays_parse_as_a_whole() {
        let a = answer(
            "gemini-2.0-flash",
            r#"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"candidateCount":2}}"#,
        );
        let frames = array(&chunks(Provider::Gemini, &a));
        let v: Value = serde_json::from_slice(&frames.concat()).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 12);
        assert_eq!(v[0]["candidates"][1]["index"], 1);
    }
}
