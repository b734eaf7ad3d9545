//! What a client asks for when it creates a video, in each front's words, read into one
//! [`Create`].
//!
//! Owns: reading OpenAI's create body (JSON, or multipart with an `input_reference` file),
//! new-api's `/v1/video/generations` body (`duration` or `seconds`, `image`, `images[]`,
//! `metadata` as an object or a JSON string) and a remix body; the checks that give the client
//! OpenAI's words for a bad field. Must never: read a multipart body unbounded (the caller
//! reads it within `video.max_body`), or keep more than one copy of an input image.

use crate::error::RelayError;
use crate::providers::video::ImageInput;
use bytes::Bytes;
use serde_json::{Map, Value};

/// Longest prompt (Sora's bound).
pub(crate) const MAX_PROMPT: usize = 32_000;

/// A create request, whatever front it came through.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Create {
    pub model: String,
    pub prompt: String,
    pub seconds: Option<u32>,
    pub size: Option<String>,
    pub image: Option<ImageInput>,
    /// Provider-native fields (new-api's `metadata`; a native route's whole body).
    pub extra: Map<String, Value>,
}

fn bad(msg: impl Into<String>) -> RelayError {
    RelayError::BadRequest(msg.into())
}

/// `seconds` as OpenAI's API takes it (a string of digits); an integer is refused in OpenAI's
/// words when `strict` (the `/v1/videos` front), taken otherwise.
fn seconds_of(v: &Value, strict: bool) -> Result<Option<u32>, RelayError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => s
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=600).contains(n))
            .map(Some)
            .ok_or_else(|| bad(format!("Invalid value for 'seconds': `{}` is not a number of seconds.", crate::client_text::clip(s, 32)))),
        Value::Number(n) if !strict => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=600).contains(n))
            .map(Some)
            .ok_or_else(|| bad("Invalid value for 'seconds': expected 1 to 600.")),
        Value::Number(_) => Err(bad(
            "Invalid type for 'seconds': expected one of '4', '8', or '12', but got an integer instead.",
        )),
        _ => Err(bad("Invalid type for 'seconds': expected a string.")),
    }
}

fn text_of(v: Option<&Value>, field: &str) -> Result<Option<String>, RelayError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!(
            "Invalid type for '{field}': expected a string."
        ))),
    }
}

fn finish(mut c: Create) -> Result<Create, RelayError> {
    if c.model.is_empty() {
        return Err(bad("Missing required parameter: 'model'."));
    }
    if c.prompt.is_empty() {
        return Err(bad("Missing required parameter: 'prompt'."));
    }
    if c.prompt.chars().count() > MAX_PROMPT {
        return Err(bad(format!(
            "Invalid 'prompt': string too long. Expected a string with maximum length {MAX_PROMPT}."
        )));
    }
    if let Some(size) = &c.size {
        if crate::wire::ImageSize::parse(size).is_none() {
            return Err(bad(format!(
                "Invalid value for 'size': `{}` is not WIDTHxHEIGHT.",
                crate::client_text::clip(size, 32)
            )));
        }
    }
    c.extra.remove("model");
    Ok(c)
}

/// An image given as a URL or a data URL in a JSON body.
fn image_of_url(url: &str) -> Result<ImageInput, RelayError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (head, data) = rest
            .split_once(',')
            .ok_or_else(|| bad("Invalid image data URL."))?;
        let mime = head
            .strip_suffix(";base64")
            .ok_or_else(|| bad("Invalid image data URL: base64 expected."))?;
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|_| bad("Invalid image data URL: not base64."))?;
        return Ok(ImageInput::Bytes {
            mime: mime.to_owned(),
            data: bytes.into(),
        });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(ImageInput::Url(url.to_owned()));
    }
    Err(bad("Invalid image URL: expected an http(s) or data: URL."))
}

/// OpenAI's JSON create body (`input_reference` as `{image_url}`).
pub(crate) fn openai_json(body: &[u8]) -> Result<Create, RelayError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "We could not parse the JSON body of your request: {e}"
        ))
    })?;
    let Value::Object(mut o) = v else {
        return Err(bad("The request body must be a JSON object."));
    };
    let model = text_of(o.get("model"), "model")?.unwrap_or_default();
    let prompt = text_of(o.get("prompt"), "prompt")?.unwrap_or_default();
    let seconds = seconds_of(o.get("seconds").unwrap_or(&Value::Null), true)?;
    let size = text_of(o.get("size"), "size")?;
    let image = match o.remove("input_reference") {
        None | Some(Value::Null) => None,
        Some(Value::Object(r)) => match r.get("image_url").and_then(Value::as_str) {
            Some(url) => Some(image_of_url(url)?),
            None => {
                return Err(bad(
                    "Invalid 'input_reference': expected {\"image_url\": ...}.",
                ))
            }
        },
        Some(_) => return Err(bad("Invalid type for 'input_reference'.")),
    };
    let extra = match o.remove("metadata") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    finish(Create {
        model,
        prompt,
        seconds,
        size,
        image,
        extra,
    })
}

/// new-api's `/v1/video/generations` body: `duration` (number or string) or `seconds`, `image`
/// or `images[0]` (URL or data URL), `metadata` (object or JSON string) merged over what the
/// provider builds.
pub(crate) fn unified_json(body: &[u8]) -> Result<Create, RelayError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("invalid request body: {e}")))?;
    let Value::Object(o) = v else {
        return Err(bad("The request body must be a JSON object."));
    };
    let model = text_of(o.get("model"), "model")?.unwrap_or_default();
    let prompt = text_of(o.get("prompt"), "prompt")?.unwrap_or_default();
    let seconds = match (o.get("seconds"), o.get("duration")) {
        (Some(s), _) if !s.is_null() => seconds_of(s, false)?,
        (_, Some(d)) => seconds_of(d, false)?,
        _ => None,
    };
    let size = text_of(o.get("size"), "size")?;
    let image = o
        .get("image")
        .and_then(Value::as_str)
        .or_else(|| {
            o.get("images")
                .and_then(|a| a.get(0))
                .and_then(Value::as_str)
        })
        .or_else(|| {
            o.get("input_reference")
                .and_then(|r| r.get("image_url"))
                .and_then(Value::as_str)
        })
        .filter(|s| !s.is_empty())
        .map(image_of_url)
        .transpose()?;
    let extra = match o.get("metadata") {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) if !s.trim().is_empty() => match serde_json::from_str(s) {
            Ok(Value::Object(m)) => m,
            _ => return Err(bad("Invalid 'metadata': expected a JSON object.")),
        },
        _ => Map::new(),
    };
    finish(Create {
        model,
        prompt,
        seconds,
        size,
        image,
        extra,
    })
}

/// OpenAI's multipart create body (what the SDKs send): text fields and an `input_reference`
/// file, read from `body` (already bounded by the caller).
pub(crate) async fn openai_multipart(body: Bytes, boundary: &str) -> Result<Create, RelayError> {
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut c = Create::default();
    let mut seconds = Value::Null;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(bad(format!("The multipart body could not be read: {e}"))),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let mime = field
            .content_type()
            .map(|m| m.essence_str().to_owned())
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let is_file = field.file_name().is_some();
        let data = field
            .bytes()
            .await
            .map_err(|e| bad(format!("The multipart body could not be read: {e}")))?;
        let text = || String::from_utf8_lossy(&data).into_owned();
        match name.as_str() {
            "input_reference" if is_file => {
                c.image = Some(ImageInput::Bytes { mime, data });
            }
            "input_reference" => c.image = Some(image_of_url(&text())?),
            "model" => c.model = text(),
            "prompt" => c.prompt = text(),
            "seconds" => seconds = Value::String(text()),
            "size" => c.size = Some(text()),
            other => {
                if !is_file && c.extra.len() < 64 {
                    c.extra.insert(other.to_owned(), Value::String(text()));
                }
            }
        }
    }
    c.seconds = seconds_of(&seconds, true)?;
    finish(c)
}

/// A remix body: `{prompt}` (JSON; the SDK may send multipart too).
pub(crate) fn remix_prompt(body: &[u8]) -> Result<String, RelayError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "We could not parse the JSON body of your request: {e}"
        ))
    })?;
    let prompt = text_of(v.get("prompt"), "prompt")?.unwrap_or_default();
    if prompt.is_empty() {
        return Err(bad("Missing required parameter: 'prompt'."));
    }
    if prompt.chars().count() > MAX_PROMPT {
        return Err(bad("Invalid 'prompt': string too long."));
    }
    Ok(prompt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_json_reads_its_fields_and_refuses_an_integer_seconds() {
        let c = openai_json(br#"{"model":"sora-2","prompt":"a cat","seconds":"8","size":"1280x720","input_reference":{"image_url":"https://x.test/a.png"}}"#).unwrap();
        assert_eq!(c.seconds, Some(8));
        assert_eq!(
            c.image,
            Some(ImageInput::Url("https://x.test/a.png".into()))
        );
        let e = openai_json(br#"{"model":"sora-2","prompt":"a","seconds":8}"#).unwrap_err();
        assert!(e.to_string().contains("got an integer instead"), "{e}");
        assert!(openai_json(br#"{"prompt":"a"}"#).is_err());
        assert!(openai_json(br#"{"model":"m","prompt":"a","size":"big"}"#).is_err());
        assert!(openai_json(b"[1]").is_err());
    }

    #[test]
    fn unified_json_takes_duration_images_and_metadata_as_a_string() {
        let c = unified_json(br#"{"model":"kling-v1","prompt":"p","duration":5,"images":["data:image/png;base64,iVBORw0K"],"metadata":"{\"mode\":\"pro\"}"}"#).unwrap();
        assert_eq!(c.seconds, Some(5));
        assert!(matches!(c.image, Some(ImageInput::Bytes { ref mime, .. }) if mime == "image/png"));
        assert_eq!(c.extra["mode"], "pro");
        assert!(unified_json(br#"{"model":"m","prompt":"p","metadata":"[1]"}"#).is_err());
    }

    #[tokio::test]
    async fn multipart_reads_the_file_and_the_fields() {
        let body = "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nsora-2\r\n--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nhi\r\n--b\r\nContent-Disposition: form-data; name=\"seconds\"\r\n\r\n4\r\n--b\r\nContent-Disposition: form-data; name=\"input_reference\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n--b--\r\n";
        let c = openai_multipart(Bytes::from(body), "b").await.unwrap();
        assert_eq!(
            (c.model.as_str(), c.prompt.as_str(), c.seconds),
            ("sora-2", "hi", Some(4))
        );
        assert_eq!(
            c.image,
            Some(ImageInput::Bytes {
                mime: "image/png".into(),
                data: Bytes::from_static(b"PNG")
            })
        );
    }
}
