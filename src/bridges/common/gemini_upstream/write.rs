//! Writing a Gemini `GenerateContentRequest` from what a client's request said: contents
//! with merged turns, their parts, and the body around them (its settings are in `settings`).
//!
//! Owns: the request-side shapes both client formats share: `Turns` (consecutive same-role
//! turns merged, empty ones left out, function responses first in a user turn), image parts
//! (a data URL's base64 as `inlineData`; an http(s) or `gs://` URL as `fileData`, read by
//! Google, never by the relay), `functionCall`/`functionResponse` parts.
//! Must never: decode base64, fetch a URL, or panic on any input.

use serde_json::{json, Map, Value};

use crate::bridges::common::Side;
use crate::wire::ConvertError;

const REQ: Side = Side::Request;

/// The `thoughtSignature` Google documents for function calls it did not sign itself (history
/// from a client that cannot carry signatures): without one, Gemini 3 models refuse a turn
/// holding function calls. Unconfirmed beyond Google's thinking guide.
pub(crate) const UNSIGNED: &str = "skip_thought_signature_validator";

/// A Gemini role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    User,
    Model,
}

impl Role {
    fn word(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Model => "model",
        }
    }
}

/// `contents`, built turn by turn.
#[derive(Default)]
pub(crate) struct Turns {
    turns: Vec<(Role, Vec<Value>)>,
}

impl Turns {
    /// Adds a turn's parts, merged into the previous turn when it has the same role.
    pub(crate) fn push(&mut self, role: Role, parts: Vec<Value>) {
        if parts.is_empty() {
            return;
        }
        match self.turns.last_mut() {
            Some((r, p)) if *r == role => p.extend(parts),
            _ => self.turns.push((role, parts)),
        }
    }

    /// The `contents` array. In a user turn function responses come first (they answer the
    /// calls of the turn before, which Gemini matches in order).
    pub(crate) fn into_contents(self) -> Vec<Value> {
        self.turns
            .into_iter()
            .map(|(role, mut parts)| {
                let mut signed = false;
                for p in &mut parts {
                    if let (Role::Model, Some(o)) = (role, p.as_object_mut()) {
                        if o.contains_key("functionCall") && !signed {
                            o.insert("thoughtSignature".into(), json!(UNSIGNED));
                            signed = true;
                        }
                    }
                }
                if role == Role::User {
                    parts.sort_by_key(|p| p.get("functionResponse").is_none());
                }
                json!({"role": role.word(), "parts": parts})
            })
            .collect()
    }
}

/// A text part (`None` for empty text, which Gemini refuses).
pub(crate) fn text_part(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!({ "text": text }))
}

/// A base64 image (or other media) given with its type.
pub(crate) fn inline_part(mime_type: &str, data: &str) -> Value {
    json!({"inlineData": {"mimeType": mime_type, "data": data}})
}

/// An image URL: a base64 data URL inline, an http(s) or `gs://` URL as a file Google reads
/// (its type guessed from the extension, `image/jpeg` when unknown).
pub(crate) fn image_url_part(url: &str) -> Result<Value, ConvertError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| REQ.err("image data URL has no ',' separator"))?;
        let mime = meta
            .strip_suffix(";base64")
            .ok_or_else(|| REQ.err("image data URL must be base64-encoded"))?;
        if mime.is_empty() {
            return Err(REQ.err("image data URL has no media type"));
        }
        return Ok(inline_part(mime, data));
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("gs://") {
        return Ok(file_part(url));
    }
    Err(REQ.err("image URL must be a data: URL, an http(s) URL or a gs:// URL"))
}

fn file_part(url: &str) -> Value {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    // Vertex AI requires a type; for an unknown extension the most common image type is
    // named (that Google reads the bytes whatever the type says is unconfirmed).
    let mime = match ext.as_str() {
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => "image/jpeg",
    };
    json!({"fileData": {"mimeType": mime, "fileUri": url}})
}

/// A call the model made (in history).
pub(crate) fn call_part(name: &str, args: Value) -> Value {
    json!({"functionCall": {"name": name, "args": args}})
}

/// A tool's result: the object it returned, or its text as `{"result": text}` (an error's as
/// `{"error": text}`).
pub(crate) fn response_part(name: &str, result: &str, is_error: bool) -> Value {
    let response = match serde_json::from_str::<Value>(result) {
        Ok(v @ Value::Object(_)) if !is_error => v,
        _ if is_error => json!({ "error": result }),
        _ => json!({ "result": result }),
    };
    json!({"functionResponse": {"name": name, "response": response}})
}

/// Tool-call arguments given as JSON text: an object (empty text reads as `{}`).
pub(crate) fn args_object(args: &str, what: &str) -> Result<Value, ConvertError> {
    if args.trim().is_empty() {
        return Ok(json!({}));
    }
    let v: Value = serde_json::from_str(args)
        .map_err(|e| REQ.err(format!("{what} is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(REQ.err(format!("{what} must be a JSON object")));
    }
    Ok(v)
}

/// The request body: contents, system instruction, tools, config (each only when there is one).
pub(crate) fn request_body(
    contents: Vec<Value>,
    system: Vec<Value>,
    tools: Option<Value>,
    tool_config: Option<Value>,
    config: Map<String, Value>,
) -> Value {
    let mut out = Map::new();
    out.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        out.insert("systemInstruction".into(), json!({ "parts": system }));
    }
    if let Some(t) = tools {
        out.insert("tools".into(), t);
        if let Some(tc) = tool_config {
            out.insert("toolConfig".into(), tc);
        }
    }
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_merge_sign_and_order() {
        let mut t = Turns::default();
        t.push(Role::User, vec![json!({"text":"a"})]);
        t.push(Role::User, vec![]);
        t.push(
            Role::Model,
            vec![call_part("f", json!({})), call_part("g", json!({"x":1}))],
        );
        t.push(Role::User, vec![json!({"text":"after"})]);
        t.push(Role::User, vec![response_part("f", "{\"ok\":true}", false)]);
        let c = t.into_contents();
        assert_eq!(c.len(), 3);
        assert_eq!(c[1]["role"], "model");
        assert_eq!(c[1]["parts"][0]["thoughtSignature"], UNSIGNED);
        assert_eq!(c[1]["parts"][1].get("thoughtSignature"), None);
        assert_eq!(
            c[2]["parts"][0],
            json!({"functionResponse":{"name":"f","response":{"ok":true}}})
        );
        assert_eq!(c[2]["parts"][1], json!({"text":"after"}));
    }

    #[test]
    fn results_images_and_arguments() {
        assert_eq!(
            response_part("f", "sunny", false)["functionResponse"]["response"],
            json!({"result":"sunny"})
        );
        assert_eq!(
            response_part("f", "[1]", false)["functionResponse"]["response"],
            json!({"result":"[1]"})
        );
        assert_eq!(
            response_part("f", "boom", true)["functionResponse"]["response"],
            json!({"error":"boom"})
        );
        assert_eq!(
            image_url_part("data:image/png;base64,iVBO").unwrap(),
            json!({"inlineData":{"mimeType":"image/png","data":"iVBO"}})
        );
        assert_eq!(
            image_url_part("https://x.test/a.JPG?s=1").unwrap(),
            json!({"fileData":{"mimeType":"image/jpeg","fileUri":"https://x.test/a.JPG?s=1"}})
        );
        assert_eq!(
            image_url_part("gs://b/o").unwrap(),
            json!({"fileData":{"mimeType":"image/jpeg","fileUri":"gs://b/o"}})
        );
        for bad in ["data:image/png,abc", "data:;base64,x", "ftp://x", "é"] {
            assert!(image_url_part(bad).is_err(), "{bad}");
        }
        assert_eq!(args_object(" ", "a").unwrap(), json!({}));
        assert!(args_object("[1]", "a").is_err());
        assert!(args_object("{", "a").is_err());
    }
}
