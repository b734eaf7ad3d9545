//! `POST /v1/images/generations` (JSON): the model's rules for `n`, `size`, `quality`,
//! `response_format` and streams, then the answer of `image_out.rs`. xAI's variant is in
//! `xai.rs`.
//! Owns the generation request rules; must never format answers.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use http::HeaderMap;
use serde::Deserialize;

use super::image_out::{files_url, Family, ImageJob, Op};
use crate::errors::{media, ApiError};
use crate::gen::{text, words::hash};
use crate::headers::respond;
use crate::openai::{common, Api};
use crate::Provider;

#[derive(Deserialize)]
struct GenerationRequest {
    model: Option<String>,
    prompt: Option<String>,
    n: Option<u64>,
    size: Option<String>,
    quality: Option<String>,
    response_format: Option<String>,
    stream: Option<bool>,
    partial_images: Option<u64>,
}

pub(crate) async fn handle(
    State(api): State<Api>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let result = if api.ctx.provider == Provider::Xai {
        super::xai::answer(&api, &headers, uri.path(), &body)
    } else {
        answer(&api, &headers, uri.path(), &body).map(|job| job.reply())
    };
    respond(api.ctx.provider, &api.ctx.shared.ids, started, result)
}

/// The sizes a family takes, as OpenAI lists them in its error.
pub(crate) fn sizes(family: Family, op: Op) -> &'static [&'static str] {
    match (family, op) {
        (Family::DallE2, _) | (_, Op::Variation) => &["256x256", "512x512", "1024x1024"],
        (Family::DallE3, _) => &["1024x1024", "1792x1024", "1024x1792"],
        (Family::GptImage, Op::Generation | Op::Edit) => {
            &["1024x1024", "1024x1536", "1536x1024", "auto"]
        }
    }
}

/// Checks `size` against the family's list (gpt-image-2 also takes free sizes).
pub(crate) fn check_size(model: &str, family: Family, op: Op, size: &str) -> Result<(), ApiError> {
    let list = sizes(family, op);
    if list.contains(&size) || (model.starts_with("gpt-image-2") && free_size(size)) {
        return Ok(());
    }
    let quoted: Vec<String> = list.iter().map(|s| format!("'{s}'")).collect();
    let supported = match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}, and {last}", rest.join(", ")),
        _ => quoted.join(""),
    };
    Err(media::invalid_value("size", size, &supported))
}

/// `WIDTHxHEIGHT` in multiples of 16, ratio 1:3..3:1, at most 3840x2160.
fn free_size(size: &str) -> bool {
    let Some((w, h)) = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
    else {
        return false;
    };
    w % 16 == 0 && h % 16 == 0 && w.max(h) <= 3840 && w.min(h) <= 2160 && w <= 3 * h && h <= 3 * w
}

/// `n`: 1..=10, and 1 for dall-e-3.
pub(crate) fn check_n(family: Family, n: Option<u64>) -> Result<u64, ApiError> {
    let n = n.unwrap_or(1);
    let max = if family == Family::DallE3 { 1 } else { 10 };
    if (1..=max).contains(&n) {
        return Ok(n);
    }
    let mut e = ApiError::invalid(if family == Family::DallE3 {
        "Invalid 'n': dall-e-3 only supports n=1.".to_owned()
    } else {
        format!("Invalid 'n': integer above maximum value. Expected a value <= {max}, but got {n} instead.")
    });
    e.param = Some("n");
    Err(e)
}

/// `response_format`: refused for GPT image models (which answer base64), else `url`
/// (default) or `b64_json`.
pub(crate) fn check_format(family: Family, format: Option<&str>) -> Result<bool, ApiError> {
    match (family, format) {
        (Family::GptImage, Some(_)) => Err(media::unknown_parameter("response_format")),
        (Family::GptImage, None) => Ok(true),
        (_, None | Some("url")) => Ok(false),
        (_, Some("b64_json")) => Ok(true),
        (_, Some(other)) => Err(media::invalid_value(
            "response_format",
            other,
            "'url' and 'b64_json'",
        )),
    }
}

/// `stream` and `partial_images` (0..=3): GPT image models only.
pub(crate) fn check_stream(
    family: Family,
    stream: bool,
    partial: Option<u64>,
) -> Result<u64, ApiError> {
    if stream && family != Family::GptImage {
        let mut e = ApiError::invalid("Streaming is not supported for this model.");
        e.param = Some("stream");
        return Err(e);
    }
    match partial.unwrap_or(0) {
        p @ 0..=3 => Ok(p),
        _ => {
            let mut e = ApiError::invalid(
                "Invalid 'partial_images': integer above maximum value. Expected a value <= 3.",
            );
            e.param = Some("partial_images");
            Err(e)
        }
    }
}

/// A prompt, present and within the family's length.
pub(crate) fn check_prompt(family: Family, prompt: Option<&str>) -> Result<String, ApiError> {
    let prompt = prompt
        .filter(|p| !p.is_empty())
        .ok_or_else(|| common::missing("prompt"))?;
    let max = match family {
        Family::GptImage => 32_000,
        Family::DallE3 => 4000,
        Family::DallE2 => 1000,
    };
    let len = prompt.chars().count();
    if len > max {
        let mut e = ApiError::invalid(format!(
            "Invalid 'prompt': string too long. Expected a string with maximum length {max}, but got a string with length {len} instead."
        ));
        e.param = Some("prompt");
        return Err(e);
    }
    Ok(prompt.to_owned())
}

fn answer(api: &Api, headers: &HeaderMap, path: &str, body: &[u8]) -> Result<ImageJob, ApiError> {
    common::check_auth(api.ctx.provider, headers)?;
    let req: GenerationRequest = common::parse(body)?;
    let model = api.model(Some(req.model.unwrap_or_else(|| "dall-e-2".to_owned())))?;
    let family = Family::of(&model);
    let prompt = check_prompt(family, req.prompt.as_deref())?;
    let n = check_n(family, req.n)?;
    let default_size = if family == Family::GptImage {
        "auto"
    } else {
        "1024x1024"
    };
    let size = req.size.unwrap_or_else(|| default_size.to_owned());
    check_size(&model, family, Op::Generation, &size)?;
    let b64 = check_format(family, req.response_format.as_deref())?;
    let stream = req.stream.unwrap_or(false);
    let partial_images = check_stream(family, stream, req.partial_images)?;
    Ok(ImageJob {
        op: Op::Generation,
        family,
        n,
        size,
        quality: req.quality.unwrap_or_else(|| "auto".to_owned()),
        b64,
        stream,
        partial_images,
        text_tokens: text::words(&prompt).max(1),
        input_images: 0,
        seed: hash(prompt.as_bytes()),
        files_url: files_url(headers, path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_rules_and_wording() {
        let e = check_size("gpt-image-1", Family::GptImage, Op::Generation, "512x512").unwrap_err();
        assert_eq!(
            e.message,
            "Invalid value: '512x512'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'."
        );
        assert!(check_size("gpt-image-2", Family::GptImage, Op::Generation, "1920x1088").is_ok());
        assert!(check_size("gpt-image-2", Family::GptImage, Op::Generation, "4000x16").is_err());
        assert!(check_size("dall-e-3", Family::DallE3, Op::Generation, "1792x1024").is_ok());
        assert!(check_n(Family::DallE3, Some(2)).is_err());
        assert!(check_format(Family::GptImage, Some("url")).is_err());
        assert_eq!(check_format(Family::DallE2, None).ok(), Some(false));
    }
}
