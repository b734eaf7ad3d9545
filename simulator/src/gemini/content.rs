//! `contents` and `systemInstruction` of a Google request: their validation (roles, parts,
//! inline data) and the prompt they amount to (text, tokens, who spoke last).
//! Owns Google's content rules and their error wording; must never decide the answer.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{Map, Value};

use super::fields::{get, invalid, invalid_value};
use crate::errors::ApiError;
use crate::gen::text;

/// Tokens charged for each media part (inline data or a file): Google's count for an image.
pub(crate) const MEDIA_TOKENS: u64 = 258;

/// The part kinds, of which a part holds exactly one (the `data` oneof).
const DATA_FIELDS: [&str; 9] = [
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "toolCall",
    "toolResponse",
];

/// What the request's contents amount to.
#[derive(Clone, Debug, Default)]
pub(crate) struct Prompt {
    /// The text the answer's words are derived from (roles and parts, in order).
    pub(crate) text: String,
    /// Prompt tokens: words of the text parts, 3 per content, 258 per media part.
    pub(crate) tokens: u64,
    /// Media parts (inline data and files), each [`MEDIA_TOKENS`] of the tokens.
    pub(crate) media: u64,
    /// Characters of the text parts, spaces left out (what Vertex AI bills).
    pub(crate) chars: u64,
    /// The last content is the user's own words (not a function response).
    pub(crate) user_spoke_last: bool,
}

/// Validates `systemInstruction` and `contents` (named in errors after `request`, e.g.
/// `GenerateContentRequest`) and builds the prompt.
pub(crate) fn prompt(
    request: &str,
    system: Option<&Value>,
    contents: Option<&[Value]>,
) -> Result<Prompt, ApiError> {
    let contents = contents
        .filter(|c| !c.is_empty())
        .ok_or_else(|| invalid(format!("* {request}.contents: contents is not specified\n")))?;
    let mut p = Prompt::default();
    if let Some(system) = system {
        let parts = system.get("parts").and_then(Value::as_array);
        let t: Vec<String> = parts
            .into_iter()
            .flatten()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        let t = t.join(" ");
        p.tokens += text::words(&t);
        p.text.push_str("system:");
        p.text.push_str(&t);
        p.text.push('\n');
    }
    for (i, content) in contents.iter().enumerate() {
        let at = format!("contents[{i}]");
        let obj = content
            .as_object()
            .ok_or_else(|| invalid_value(&at, "Content", content))?;
        let role = match obj.get("role").and_then(Value::as_str) {
            None | Some("") | Some("user") => "user",
            Some("model") => "model",
            Some(_) => return Err(invalid("Please use a valid role: user, model.")),
        };
        let parts = get(obj, "parts")
            .and_then(Value::as_array)
            .filter(|parts| !parts.is_empty())
            .ok_or_else(|| {
                invalid(format!(
                    "* {request}.{at}.parts: contents.parts must not be empty.\n"
                ))
            })?;
        p.text.push_str(role);
        p.text.push(':');
        let mut answered_a_call = false;
        for (j, part) in parts.iter().enumerate() {
            let at = format!("{at}.parts[{j}]");
            let part = part
                .as_object()
                .ok_or_else(|| invalid_value(&at, "Part", part))?;
            let (kind, value) = data_of(request, &at, part)?;
            answered_a_call |= kind == "functionResponse";
            p.media += u64::from(matches!(kind, "inlineData" | "fileData"));
            let (piece, tokens) = piece(&at, kind, value)?;
            if kind == "text" {
                p.chars += piece.chars().filter(|c| !c.is_whitespace()).count() as u64;
            }
            p.text.push_str(&piece);
            p.text.push(' ');
            p.tokens += tokens;
        }
        p.text.push('\n');
        p.tokens += text::PER_MESSAGE;
        p.user_spoke_last = role == "user" && !answered_a_call;
    }
    Ok(p)
}

/// The one data field of a part (`text`, `inlineData`, ...) and its value.
fn data_of<'a>(
    request: &str,
    at: &str,
    part: &'a Map<String, Value>,
) -> Result<(&'static str, &'a Value), ApiError> {
    let mut found = None;
    for kind in DATA_FIELDS {
        if let Some(v) = get(part, kind) {
            if found.is_some() {
                return Err(invalid(format!(
                    "Invalid JSON payload received. Oneof field 'data' is already set. Cannot set '{kind}'"
                )));
            }
            found = Some((kind, v));
        }
    }
    found.ok_or_else(|| {
        invalid(format!(
            "* {request}.{at}.data: required oneof field 'data' must have one initialized field\n"
        ))
    })
}

/// A part's contribution to the prompt text, and its tokens.
fn piece(at: &str, kind: &str, value: &Value) -> Result<(String, u64), ApiError> {
    let field = |name: &str| value.as_object().and_then(|o| get(o, name));
    let named = |what: &str| {
        field("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| invalid(format!("* {at}.{what}.name: Name cannot be empty.\n")))
    };
    Ok(match kind {
        "text" => {
            let t = value
                .as_str()
                .ok_or_else(|| invalid_value(&format!("{at}.text"), "TYPE_STRING", value))?;
            (t.to_owned(), text::words(t))
        }
        "inlineData" => {
            let mime = field("mimeType").and_then(Value::as_str).unwrap_or("");
            let data = field("data").and_then(Value::as_str).unwrap_or("");
            if !decodes(data) {
                return Err(invalid(format!(
                    "Invalid value at '{at}.inline_data.data' (TYPE_BYTES), Base64 decoding failed for \"{}\"",
                    data.chars().take(40).collect::<String>()
                )));
            }
            (format!("[{mime}]"), MEDIA_TOKENS)
        }
        "fileData" => {
            let uri = field("fileUri").and_then(Value::as_str).unwrap_or("");
            if uri.is_empty() {
                return Err(invalid(format!(
                    "* {at}.file_data.file_uri: file_uri must not be empty.\n"
                )));
            }
            (format!("[{uri}]"), MEDIA_TOKENS)
        }
        "functionCall" | "functionResponse" => {
            let (what, member) = match kind {
                "functionCall" => ("function_call", "args"),
                _ => ("function_response", "response"),
            };
            let name = named(what)?;
            let t = format!("{name}:{}", field(member).unwrap_or(&Value::Null));
            let n = text::words(&t);
            (t, n)
        }
        other => {
            let t = value.to_string();
            (format!("{other}:{t}"), text::words(&t))
        }
    })
}

/// Whether `data` is base64 (standard or URL-safe alphabet, padded or not).
fn decodes(data: &str) -> bool {
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .any(|engine| engine.decode(data).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(contents: Value) -> Result<Prompt, String> {
        let list = contents.as_array().cloned().unwrap_or_default();
        prompt("GenerateContentRequest", None, Some(&list)).map_err(|e| e.message)
    }

    #[test]
    fn counts_and_roles() {
        let p = run(json!([{"role": "user", "parts": [{"text": "a b"}]},
            {"role": "model", "parts": [{"text": "c"}]},
            {"parts": [{"text": "d"}, {"inline_data": {"mime_type": "image/png", "data": "aGk="}}]}]))
        .unwrap();
        assert_eq!(p.tokens, 2 + 1 + 1 + MEDIA_TOKENS + 3 * 3);
        assert!(p.user_spoke_last);
        let p = run(json!([{"role": "user", "parts": [{"functionResponse": {"name": "w", "response": {"t": 1}}}]}])).unwrap();
        assert!(!p.user_spoke_last);
    }

    #[test]
    fn refusals() {
        assert!(run(json!([]))
            .unwrap_err()
            .contains("contents is not specified"));
        assert!(
            run(json!([{"role": "assistant", "parts": [{"text": "x"}]}]))
                .unwrap_err()
                .contains("valid role")
        );
        assert!(run(json!([{"role": "user", "parts": []}]))
            .unwrap_err()
            .contains("must not be empty"));
        assert!(run(json!([{"parts": [{}]}]))
            .unwrap_err()
            .contains("required oneof field 'data'"));
        assert!(
            run(json!([{"parts": [{"text": "x", "fileData": {"fileUri": "gs://a"}}]}]))
                .unwrap_err()
                .contains("already set")
        );
        let e = run(json!([{"parts": [{"inlineData": {"mimeType": "image/png", "data": "%%%"}}]}]))
            .unwrap_err();
        assert!(
            e.contains("contents[0].parts[0].inline_data.data") && e.contains("Base64"),
            "{e}"
        );
        assert!(run(json!([{"parts": [{"functionCall": {"args": {}}}]}]))
            .unwrap_err()
            .contains("Name cannot be empty"));
    }
}
