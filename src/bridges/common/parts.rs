//! Single content parts: OpenAI `text`/`image_url` parts <-> Anthropic `text`/`image` blocks.
//!
//! Owns: one part or block at a time, images as data URLs or http(s) URLs. Must never fetch a
//! URL, decode base64 or look inside image bytes; it only moves strings between shapes.

use serde_json::{json, Value};

use super::json::{obj, req_str, Obj};
use super::side::Side;
use crate::wire::ConvertError;

const REQ: Side = Side::Request;

/// An OpenAI user/assistant content part -> an Anthropic block. Empty text gives `None`
/// (Anthropic rejects empty text blocks).
pub(crate) fn part_to_block(part: &Value) -> Result<Option<Value>, ConvertError> {
    let p = obj(part, "content part", REQ)?;
    match p.get("type").and_then(Value::as_str) {
        Some("text") => text_block(req_str(p, "text", "text part", REQ)?, p),
        Some("refusal") => text_block(req_str(p, "refusal", "refusal part", REQ)?, p),
        Some("image_url") => {
            let url = match p.get("image_url") {
                Some(Value::String(s)) => s.as_str(),
                Some(Value::Object(o)) => req_str(o, "url", "image_url", REQ)?,
                _ => return Err(REQ.err("image_url part needs image_url.url")),
            };
            Ok(Some(image_block(url)?))
        }
        Some(other) => Err(REQ.err(format!(
            "content part type {other} is not supported by this model"
        ))),
        None => Err(REQ.err("content part needs a type")),
    }
}

fn text_block(text: &str, part: &Obj) -> Result<Option<Value>, ConvertError> {
    if text.is_empty() {
        return Ok(None);
    }
    let mut b = Obj::new();
    b.insert("type".into(), json!("text"));
    b.insert("text".into(), json!(text));
    // Prompt caching hints have a counterpart; keep them.
    if let Some(cc) = part.get("cache_control") {
        b.insert("cache_control".into(), cc.clone());
    }
    Ok(Some(Value::Object(b)))
}

/// An image URL (data: or http(s)) -> an Anthropic image block.
pub(crate) fn image_block(url: &str) -> Result<Value, ConvertError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| REQ.err("image data URL has no ',' separator"))?;
        let media_type = meta
            .strip_suffix(";base64")
            .ok_or_else(|| REQ.err("image data URL must be base64-encoded"))?;
        if media_type.is_empty() {
            return Err(REQ.err("image data URL has no media type"));
        }
        return Ok(
            json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}),
        );
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err(REQ.err("image_url must be a data: URL or an http(s) URL"))
}

/// An Anthropic `text` or `image` block -> an OpenAI content part. Other blocks are errors.
pub(crate) fn block_to_part(block: &Obj) -> Result<Value, ConvertError> {
    match block.get("type").and_then(Value::as_str) {
        Some("text") => {
            Ok(json!({"type": "text", "text": req_str(block, "text", "text block", REQ)?}))
        }
        Some("image") => {
            let src = obj(
                block.get("source").unwrap_or(&Value::Null),
                "image.source",
                REQ,
            )?;
            let url = match req_str(src, "type", "image.source", REQ)? {
                "base64" => format!(
                    "data:{};base64,{}",
                    req_str(src, "media_type", "image.source", REQ)?,
                    req_str(src, "data", "image.source", REQ)?
                ),
                "url" => req_str(src, "url", "image.source", REQ)?.to_owned(),
                other => {
                    return Err(REQ.err(format!(
                        "image source type {other} is not supported by this model"
                    )))
                }
            };
            Ok(json!({"type": "image_url", "image_url": {"url": url}}))
        }
        Some(other) => Err(REQ.err(format!(
            "content block type {other} is not supported by this model"
        ))),
        None => Err(REQ.err("content block needs a type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_url_and_http_images() {
        let b = part_to_block(&json!({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO","detail":"high"}}))
            .unwrap()
            .unwrap();
        assert_eq!(
            b,
            json!({"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}})
        );
        let back = block_to_part(b.as_object().unwrap()).unwrap();
        assert_eq!(back["image_url"]["url"], "data:image/png;base64,iVBO");
        let u = part_to_block(&json!({"type":"image_url","image_url":"HTTPS://x.test/a.jpg"}))
            .unwrap()
            .unwrap();
        assert_eq!(
            u["source"],
            json!({"type":"url","url":"HTTPS://x.test/a.jpg"})
        );
        let back = block_to_part(u.as_object().unwrap()).unwrap();
        assert_eq!(back["image_url"]["url"], "HTTPS://x.test/a.jpg");
    }

    #[test]
    fn bad_images_are_errors() {
        for url in [
            "data:image/png,abc",
            "data:;base64,abc",
            "data:image/png;base64abc",
            "ftp://x",
            "é",
        ] {
            assert!(image_block(url).is_err(), "{url}");
        }
        assert!(part_to_block(&json!({"type":"image_url"})).is_err());
        assert!(part_to_block(&json!({"type":"input_audio"})).is_err());
        assert!(part_to_block(&json!({"text":"no type"})).is_err());
        assert!(block_to_part(
            json!({"type":"image","source":{"type":"file"}})
                .as_object()
                .unwrap()
        )
        .is_err());
        assert!(block_to_part(json!({"type":"document"}).as_object().unwrap()).is_err());
    }

    #[test]
    fn text_keeps_cache_control_and_skips_empty() {
        let b =
            part_to_block(&json!({"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}))
                .unwrap();
        assert_eq!(
            b,
            Some(json!({"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}))
        );
        assert_eq!(
            part_to_block(&json!({"type":"text","text":""})).unwrap(),
            None
        );
        assert_eq!(
            part_to_block(&json!({"type":"refusal","refusal":"no"}))
                .unwrap()
                .unwrap()["text"],
            "no"
        );
    }
}
