//! Small, panic-free accessors over `serde_json::Value` shared by the bridges, and reading and
//! writing the bodies they convert.
//!
//! Owns: typed reads with error messages naming the offending field, text extraction from
//! "string or text parts" content, ids and timestamps. Must never index with `[]` on untrusted
//! input in a way that could panic, and never allocate more than the value it reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::side::Side;
use crate::error::RelayError;
use crate::upstream::UpstreamError;
use crate::wire::{ConvertError, Usage};
use bytes::Bytes;

pub(crate) type Obj = Map<String, Value>;

/// `v` as an object, or an error naming `what`.
pub(crate) fn obj<'a>(v: &'a Value, what: &str, side: Side) -> Result<&'a Obj, ConvertError> {
    v.as_object()
        .ok_or_else(|| side.err(format!("{what} must be an object")))
}

/// `v` as an array, or an error naming `what`.
pub(crate) fn arr<'a>(
    v: &'a Value,
    what: &str,
    side: Side,
) -> Result<&'a Vec<Value>, ConvertError> {
    v.as_array()
        .ok_or_else(|| side.err(format!("{what} must be an array")))
}

/// A field that must be a string.
pub(crate) fn req_str<'a>(
    o: &'a Obj,
    key: &str,
    what: &str,
    side: Side,
) -> Result<&'a str, ConvertError> {
    o.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| side.err(format!("{what}.{key} must be a string")))
}

/// An optional field: absent and `null` both read as `None`.
pub(crate) fn opt<'a>(o: &'a Obj, key: &str) -> Option<&'a Value> {
    o.get(key).filter(|v| !v.is_null())
}

/// An optional string field; present but not a string is an error.
pub(crate) fn opt_str<'a>(
    o: &'a Obj,
    key: &str,
    what: &str,
    side: Side,
) -> Result<Option<&'a str>, ConvertError> {
    match opt(o, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(side.err(format!("{what}.{key} must be a string"))),
    }
}

/// Text of a "string or array of text parts/blocks" content. Parts of other types are an error
/// unless `skip_other` is set; texts are joined with `sep`.
pub(crate) fn text_of(
    v: Option<&Value>,
    what: &str,
    sep: &str,
    skip_other: bool,
    side: Side,
) -> Result<String, ConvertError> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut texts: Vec<&str> = Vec::with_capacity(parts.len());
            for p in parts {
                let po = obj(p, what, side)?;
                match po.get("type").and_then(Value::as_str) {
                    Some("text") => texts.push(req_str(po, "text", what, side)?),
                    other if !skip_other => {
                        return Err(side.err(format!(
                            "{what}: unsupported part type {}",
                            other.unwrap_or("(missing)")
                        )))
                    }
                    _ => {}
                }
            }
            Ok(texts.join(sep))
        }
        Some(_) => Err(side.err(format!("{what} must be a string or an array of text parts"))),
    }
}

/// A request converted by `convert` for `upstream_model`, as the body to send.
pub(crate) fn converted_request(
    body: &[u8],
    upstream_model: &str,
    convert: fn(&Value, &str) -> Result<Value, ConvertError>,
) -> Result<Bytes, RelayError> {
    request_bytes(&convert(&request_json(body)?, upstream_model)?)
}

/// A converter of whole answers: the upstream's answer and the client's model name in, the
/// client's answer and the usage out.
pub(crate) type AnswerConverter = fn(&Value, &str) -> Result<(Value, Usage), ConvertError>;

/// An upstream's whole answer converted by `convert` for a client that asked for
/// `client_model`, with its usage.
pub(crate) fn converted_answer(
    body: &[u8],
    client_model: &str,
    convert: AnswerConverter,
) -> Result<(Bytes, Option<Usage>), UpstreamError> {
    let (v, usage) = convert(&answer_json(body)?, client_model).map_err(invalid_answer)?;
    Ok((Bytes::from(v.to_string()), Some(usage)))
}

/// A conversion error of an upstream's answer: the upstream sent something unreadable.
pub(crate) fn invalid_answer(e: ConvertError) -> UpstreamError {
    match e {
        ConvertError::InvalidRequest(m) | ConvertError::InvalidUpstream(m) => {
            UpstreamError::Invalid(m)
        }
    }
}

/// A client's request body as JSON (a 400 when it is not).
pub(crate) fn request_json(body: &[u8]) -> Result<Value, RelayError> {
    serde_json::from_slice(body)
        .map_err(|e| RelayError::BadRequest(format!("the request body is not valid JSON: {e}")))
}

/// A request body to send upstream.
pub(crate) fn request_bytes(v: &Value) -> Result<Bytes, RelayError> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| RelayError::BadRequest(format!("cannot encode the request: {e}")))
}

/// An upstream's whole answer as JSON (the upstream's fault when it is not).
pub(crate) fn answer_json(body: &[u8]) -> Result<Value, UpstreamError> {
    serde_json::from_slice(body)
        .map_err(|e| UpstreamError::Invalid(format!("the upstream body is not JSON: {e}")))
}

/// Tool-call arguments as an object (Anthropic `input`, Gemini `args`): empty -> `{}`, a JSON object as is, anything
/// else (invalid or truncated JSON, a non-object) -> `{"_raw": "<the string>"}`.
pub(crate) fn parse_arguments(args: &str) -> Value {
    if args.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(args) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({"_raw": args}),
    }
}

/// Unix time in seconds (0 if the clock is before 1970).
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh, process-unique id suffix (24 hex digits). Not a secret and not cryptographic.
pub(crate) fn fresh_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!("{:016x}{:08x}", nanos, (n as u32).wrapping_mul(0x9E37_79B9))
}

/// Re-prefix an id: strips any of `strip` from the front of `id`, then prepends `prefix`.
/// A missing or empty id gets a fresh suffix.
pub(crate) fn reprefix(id: Option<&str>, strip: &[&str], prefix: &str) -> String {
    let id = id.unwrap_or("");
    let mut rest = id;
    for s in strip {
        if let Some(r) = id.strip_prefix(s) {
            rest = r;
            break;
        }
    }
    if rest.is_empty() {
        format!("{prefix}{}", fresh_suffix())
    } else {
        format!("{prefix}{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_of_accepts_string_parts_and_null() {
        let s = Side::Request;
        assert_eq!(
            text_of(Some(&json!("hi")), "c", "\n", false, s).unwrap(),
            "hi"
        );
        assert_eq!(text_of(None, "c", "\n", false, s).unwrap(), "");
        let parts = json!([{"type":"text","text":"a"},{"type":"text","text":"b"}]);
        assert_eq!(text_of(Some(&parts), "c", "\n", false, s).unwrap(), "a\nb");
        let bad = json!([{"type":"image_url"}]);
        assert!(text_of(Some(&bad), "c", "", false, s).is_err());
        assert_eq!(text_of(Some(&bad), "c", "", true, s).unwrap(), "");
        assert!(text_of(Some(&json!(3)), "c", "", false, s).is_err());
        assert!(text_of(Some(&json!([{"type":"text","text":1}])), "c", "", false, s).is_err());
    }

    #[test]
    fn ids_are_reprefixed_and_unique() {
        assert_eq!(
            reprefix(Some("msg_01AbC"), &["msg_"], "chatcmpl-"),
            "chatcmpl-01AbC"
        );
        assert_eq!(
            reprefix(Some("xyz"), &["msg_"], "chatcmpl-"),
            "chatcmpl-xyz"
        );
        let a = reprefix(None, &[], "msg_");
        let b = reprefix(Some(""), &[], "msg_");
        assert!(a.starts_with("msg_") && a.len() > 10 && a != b);
    }
}
