//! OpenAI `/v1/images/generations` <-> a Gemini image model's `generateContent`.
//!
//! Owns: reading an OpenAI image request ([`ImageAsk`], shared with `imagen`: `prompt`, `n`
//! 1-10, `size`, `output_format`, `output_compression`; `response_format` `b64_json` or none,
//! `url` a 400: Google answers bytes, there is no URL to give), the `generateContent` body
//! (`n > 1` a 400: Gemini image models draw one image per request; `size` as
//! `imageConfig.aspectRatio`; PNG only), and the answer: every `inlineData` image of candidate 0
//! as `data[].b64_json`, its text as `revised_prompt`, `usage` in tokens by modality. An answer
//! without an image is the client's 400 (`errors::filtered`: `content_policy_violation`; `errors::withheld` when the model made none), naming the filter's word.
//! Dropped: `quality`, `style`, `background`, `moderation`, `user`.
//! Must never: decode or re-encode an image, or answer 2xx without one.

use serde_json::{json, Value};

use super::image_size::aspect_ratio;
use crate::bridges::common::gemini_upstream::media_read::{read_inline, Inline};
use crate::bridges::common::gemini_upstream::media_write::image_request;
use crate::bridges::common::json::{invalid_answer, now_secs, obj, opt, opt_str, req_str};
use crate::bridges::common::Side;
use crate::providers::gemini::errors::{filtered, withheld};
use crate::providers::gemini::media::IMAGE_MODEL_RATIOS;
use crate::upstream::UpstreamError;
use crate::wire::{ConvertError, StopReason, Usage};
use bytes::Bytes;

const REQ: Side = Side::Request;

/// What an OpenAI image request asks, as far as Google's models can give it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ImageAsk<'a> {
    pub(crate) prompt: &'a str,
    pub(crate) n: u64,
    pub(crate) size: Option<&'a str>,
    /// `output_format`: `png`, `jpeg` or `webp`.
    pub(crate) format: Option<&'a str>,
    pub(crate) compression: Option<u64>,
}

/// Reads an OpenAI image generation request.
pub(crate) fn image_ask(req: &Value) -> Result<ImageAsk<'_>, ConvertError> {
    let r = obj(req, "request body", REQ)?;
    let prompt = req_str(r, "prompt", "request", REQ)?;
    if prompt.trim().is_empty() {
        return Err(REQ.err("prompt must not be empty"));
    }
    let n = match opt(r, "n") {
        None => 1,
        Some(n) => n
            .as_u64()
            .filter(|n| (1..=10).contains(n))
            .ok_or_else(|| REQ.err("n must be an integer from 1 to 10"))?,
    };
    match opt_str(r, "response_format", "request", REQ)? {
        None | Some("b64_json") => {}
        Some("url") => {
            return Err(REQ.err(
                "response_format url is not available for Google's image models: they answer \
                 the image itself, and there is no URL to give; ask for b64_json (the default here)",
            ))
        }
        Some(other) => {
            return Err(REQ.err(format!(
                "response_format must be b64_json or url, not {other:?}"
            )))
        }
    }
    let format = opt_str(r, "output_format", "request", REQ)?;
    let compression = match opt(r, "output_compression") {
        None => None,
        Some(c) => Some(
            c.as_u64()
                .filter(|c| *c <= 100)
                .ok_or_else(|| REQ.err("output_compression must be an integer from 0 to 100"))?,
        ),
    };
    Ok(ImageAsk {
        prompt,
        n,
        size: opt_str(r, "size", "request", REQ)?,
        format,
        compression,
    })
}

/// The `generateContent` body for a Gemini image model.
pub(crate) fn images_request_to_gemini(req: &Value) -> Result<Value, ConvertError> {
    let ask = image_ask(req)?;
    if ask.n > 1 {
        return Err(REQ.err(
            "n > 1 is not available for Gemini image models: they draw one image per request \
             (ask several times, or use an Imagen model on Vertex AI)",
        ));
    }
    match ask.format {
        None | Some("png") => {}
        Some(other) => {
            return Err(REQ.err(format!(
                "output_format {other:?} is not available for Gemini image models: they answer PNG"
            )))
        }
    }
    let ratio = aspect_ratio(ask.size, IMAGE_MODEL_RATIOS)?;
    Ok(image_request(ask.prompt, ratio))
}

/// `output_format` of an image's type.
pub(crate) fn format_of(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/webp" => "webp",
        _ => "png",
    }
}

/// One `data` entry.
pub(crate) fn datum(image: &Inline, revised: Option<&str>) -> Value {
    let mut d = json!({ "b64_json": image.data });
    if let Some(p) = revised.filter(|p| !p.is_empty()) {
        d["revised_prompt"] = json!(p);
    }
    d
}

/// Text of the model kept in a refusal's message, at most.
const SAID: usize = 300;

/// A Gemini image model's answer as OpenAI's images response.
pub(crate) fn gemini_images_to_openai(v: &Value) -> Result<(Bytes, Option<Usage>), UpstreamError> {
    let r = read_inline(v).map_err(invalid_answer)?;
    let images: Vec<&Inline> = r
        .media
        .iter()
        .filter(|m| m.mime_type.starts_with("image/"))
        .collect();
    let word = r.finish.as_deref().unwrap_or("none");
    if images.is_empty() {
        let fault = if r.stop == Some(StopReason::ContentFilter) {
            filtered(format!(
                "Your request was rejected by Google's safety filters: no image was made ({word})"
            ))
        } else {
            let said: String = r.text.chars().take(SAID).collect();
            withheld(format!("the model made no image ({word}); it said: {said}"))
        };
        return Err(UpstreamError::Status(Box::new(fault)));
    }
    let text = r.text.trim();
    let data: Vec<Value> = images.iter().map(|i| datum(i, Some(text))).collect();
    let mut out = json!({
        "created": now_secs(),
        "data": data,
        "output_format": format_of(&images[0].mime_type),
    });
    if let Some(u) = r.usage {
        out["usage"] = json!({
            "input_tokens": u.prompt_tokens,
            "output_tokens": u.completion_tokens,
            "total_tokens": u.prompt_tokens.saturating_add(u.completion_tokens),
            "input_tokens_details": {
                "text_tokens": r.modal.prompt_text,
                "image_tokens": r.modal.prompt_image,
            },
            "output_tokens_details": {
                "text_tokens": r.modal.output_text,
                "image_tokens": r.modal.output_image,
            },
        });
    }
    Ok((Bytes::from(out.to_string()), r.usage))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::FaultKind;

    #[test]
    fn requests_ask_for_text_and_image_at_the_sizes_ratio() {
        let v = images_request_to_gemini(
            &json!({"model":"m","prompt":"a fox","size":"1536x1024","quality":"high","n":1}),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"contents":[{"role":"user","parts":[{"text":"a fox"}]}],
                "generationConfig":{"responseModalities":["TEXT","IMAGE"],
                "imageConfig":{"aspectRatio":"3:2"}}})
        );
        let plain = images_request_to_gemini(
            &json!({"prompt":"a fox","response_format":"b64_json","output_format":"png"}),
        )
        .unwrap();
        assert!(plain["generationConfig"].get("imageConfig").is_none());
        for (bad, says) in [
            (json!({"prompt":"a","n":2}), "n > 1"),
            (json!({"prompt":"a","n":11}), "n must be"),
            (json!({"prompt":"a","response_format":"url"}), "no URL"),
            (
                json!({"prompt":"a","response_format":"gif"}),
                "response_format",
            ),
            (json!({"prompt":"a","output_format":"jpeg"}), "PNG"),
            (json!({"prompt":"a","size":"huge"}), "size"),
            (
                json!({"prompt":"a","output_compression":101}),
                "output_compression",
            ),
            (json!({"prompt":" "}), "prompt"),
            (json!({"n":1}), "prompt"),
        ] {
            match images_request_to_gemini(&bad) {
                Err(ConvertError::InvalidRequest(m)) => assert!(m.contains(says), "{m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn answers_carry_every_image_its_text_and_usage() {
        let v = json!({"candidates":[{"content":{"parts":[{"text":"A fox."},
            {"inlineData":{"mimeType":"image/png","data":"iVBORw"}}]},"finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1293,"totalTokenCount":1297,
            "promptTokensDetails":[{"modality":"TEXT","tokenCount":4}],
            "candidatesTokensDetails":[{"modality":"TEXT","tokenCount":3},{"modality":"IMAGE","tokenCount":1290}]}});
        let (body, usage) = gemini_images_to_openai(&v).unwrap();
        let out: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            out["data"],
            json!([{"b64_json":"iVBORw","revised_prompt":"A fox."}])
        );
        assert_eq!(out["output_format"], "png");
        assert_eq!(
            out["usage"],
            json!({"input_tokens":4,"output_tokens":1293,"total_tokens":1297,
                "input_tokens_details":{"text_tokens":4,"image_tokens":0},
                "output_tokens_details":{"text_tokens":3,"image_tokens":1290}})
        );
        assert_eq!(usage.unwrap().completion_tokens, 1293);
        assert!(out["created"].as_u64().unwrap() > 0);
    }

    #[test]
    fn an_answer_without_an_image_is_the_clients_400() {
        let refused = |v: Value, kind: FaultKind| match gemini_images_to_openai(&v) {
            Err(UpstreamError::Status(f)) => {
                assert_eq!(f.kind, kind);
                f.message.unwrap()
            }
            other => panic!("{other:?}"),
        };
        let withheld = |v: Value| refused(v, FaultKind::ContentFiltered);
        let m = withheld(json!({"candidates":[{"finishReason":"IMAGE_SAFETY","index":0}]}));
        assert!(
            m.contains("safety filters") && m.contains("IMAGE_SAFETY"),
            "{m}"
        );
        let m = withheld(json!({"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"}}));
        assert!(m.contains("PROHIBITED_CONTENT"), "{m}");
        // The model made none, unfiltered: a plain refusal, not a content-policy one.
        let m = refused(
            json!({"candidates":[{"content":{"parts":[{"text":"I cannot draw."}]},
            "finishReason":"NO_IMAGE","index":0}]}),
            FaultKind::InvalidRequest,
        );
        assert!(
            m.contains("NO_IMAGE") && m.contains("I cannot draw."),
            "{m}"
        );
        assert!(matches!(
            gemini_images_to_openai(&json!([])),
            Err(UpstreamError::Invalid(_))
        ));
    }
}
