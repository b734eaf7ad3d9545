//! OpenAI `/v1/images/generations` <-> Imagen's `:predict` (Vertex AI).
//!
//! Owns: the `:predict` body of an OpenAI image request (`n` as `sampleCount`, `size` as the
//! nearest `aspectRatio` Imagen takes, `output_format` `png`/`jpeg` as
//! `outputOptions.mimeType` with `output_compression` as its `compressionQuality`; `webp` a
//! 400), and the answer: each prediction's `bytesBase64Encoded` as `data[].b64_json`, its
//! rewritten `prompt` as `revised_prompt`; a filtered sample (only `raiFilteredReason`) is left
//! out, and when every sample was filtered the answer is the client's 400 naming the reasons.
//! No `usage`: Imagen counts no tokens (the relay bills the images).
//! Must never: answer 2xx without an image.

use serde_json::{json, Value};

use super::image_size::aspect_ratio;
use super::images::{datum, format_of, image_ask};
use crate::bridges::common::gemini_upstream::media_read::read_predictions;
use crate::bridges::common::gemini_upstream::media_write::{imagen_request, ImagenAsk};
use crate::bridges::common::json::{invalid_answer, now_secs};
use crate::bridges::common::Side;
use crate::providers::gemini::errors::filtered;
use crate::providers::gemini::media::IMAGEN_RATIOS;
use crate::upstream::UpstreamError;
use crate::wire::{ConvertError, Usage};
use bytes::Bytes;

/// The `:predict` body for an Imagen model.
pub(crate) fn imagen_request_from_openai(req: &Value) -> Result<Value, ConvertError> {
    let ask = image_ask(req)?;
    let mime_type = match ask.format {
        None | Some("png") => "image/png",
        Some("jpeg" | "jpg") => "image/jpeg",
        Some(other) => {
            return Err(Side::Request.err(format!(
                "output_format {other:?} is not available for Imagen: it answers png or jpeg"
            )))
        }
    };
    let quality = ask.compression.filter(|_| mime_type == "image/jpeg");
    Ok(imagen_request(&ImagenAsk {
        prompt: ask.prompt,
        samples: ask.n,
        aspect_ratio: aspect_ratio(ask.size, IMAGEN_RATIOS)?,
        mime_type,
        quality,
    }))
}

/// Imagen's predictions as OpenAI's images response.
pub(crate) fn imagen_to_openai(v: &Value) -> Result<(Bytes, Option<Usage>), UpstreamError> {
    let p = read_predictions(v).map_err(invalid_answer)?;
    let Some(first) = p.samples.first() else {
        let why = if p.filtered.is_empty() {
            "no reason given".to_owned()
        } else {
            p.filtered.join("; ")
        };
        return Err(UpstreamError::Status(Box::new(filtered(format!(
            "Your request was rejected by Google's safety filters: every image was filtered ({why})"
        )))));
    };
    let data: Vec<Value> = p
        .samples
        .iter()
        .map(|s| datum(&s.image, s.prompt.as_deref()))
        .collect();
    let out = json!({
        "created": now_secs(),
        "data": data,
        "output_format": format_of(&first.image.mime_type),
    });
    Ok((Bytes::from(out.to_string()), None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::FaultKind;

    #[test]
    fn requests_map_n_size_and_format() {
        let v = imagen_request_from_openai(&json!({"model":"imagen-4.0-generate-001",
            "prompt":"a fox","n":3,"size":"1792x1024","output_format":"jpeg","output_compression":60}))
        .unwrap();
        assert_eq!(
            v,
            json!({"instances":[{"prompt":"a fox"}],"parameters":{"sampleCount":3,
                "includeRaiReason":true,"aspectRatio":"16:9",
                "outputOptions":{"mimeType":"image/jpeg","compressionQuality":60}}})
        );
        let v = imagen_request_from_openai(&json!({"prompt":"a","output_compression":60})).unwrap();
        assert_eq!(
            v["parameters"],
            json!({"sampleCount":1,"includeRaiReason":true,"outputOptions":{"mimeType":"image/png"}})
        );
        for bad in [
            json!({"prompt":"a","output_format":"webp"}),
            json!({"prompt":"a","response_format":"url"}),
            json!({"prompt":"a","n":0}),
        ] {
            assert!(
                matches!(
                    imagen_request_from_openai(&bad),
                    Err(ConvertError::InvalidRequest(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn filtered_samples_are_skipped_and_all_filtered_is_a_400() {
        let v = json!({"predictions":[{"bytesBase64Encoded":"aa","mimeType":"image/png","prompt":"a fox, soft light"},
            {"raiFilteredReason":"filtered"},{"bytesBase64Encoded":"bb","mimeType":"image/png"}]});
        let (body, usage) = imagen_to_openai(&v).unwrap();
        let out: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            out["data"],
            json!([{"b64_json":"aa","revised_prompt":"a fox, soft light"},{"b64_json":"bb"}])
        );
        assert_eq!(usage, None);
        for (all_filtered, says) in [
            (
                json!({"predictions":[{"raiFilteredReason":"too spicy"}]}),
                "too spicy",
            ),
            (json!({}), "no reason given"),
        ] {
            match imagen_to_openai(&all_filtered) {
                Err(UpstreamError::Status(f)) => {
                    assert_eq!(f.kind, FaultKind::ContentFiltered);
                    assert!(f.message.unwrap().contains(says));
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
