//! Vertex AI's Imagen `:predict`: `instances[{prompt}]` and `parameters` (`sampleCount`,
//! `aspectRatio`, `includeRaiReason`, `outputOptions.mimeType`, `enhancePrompt`) →
//! `predictions[{bytesBase64Encoded, mimeType}]`; a prompt asking to be blocked
//! (`SIM_BLOCK_PROMPT`) gets a prediction carrying only `raiFilteredReason` (with
//! `includeRaiReason`), else none.
//! Owns the Imagen shapes; must never depend on anything but the request.

use base64::Engine;
use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::gemini::fields::{body_object, check_names, get, invalid};
use crate::gemini::safety::blocks_prompt;
use crate::gen::image::{dimensions, png};
use crate::gen::words::hash;

const RATIOS: [&str; 5] = ["1:1", "3:4", "4:3", "9:16", "16:9"];
/// Most images of one request (Imagen's `sampleCount` limit: unconfirmed).
const MAX_SAMPLES: u64 = 4;

/// `POST .../publishers/google/models/imagen-...:predict`.
pub(crate) fn predict(body: &[u8]) -> Result<Value, ApiError> {
    let obj = body_object(body)?;
    check_names(&obj, &["instances", "parameters"], None)?;
    let prompt = get(&obj, "instances")
        .and_then(Value::as_array)
        .and_then(|i| i.first())
        .and_then(|i| get(i.as_object()?, "prompt"))
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| invalid("* instances[0].prompt: prompt must not be empty.\n"))?;
    let params = get(&obj, "parameters").and_then(Value::as_object);
    let param = |name: &str| params.and_then(|p| get(p, name));
    let samples = param("sampleCount").and_then(Value::as_u64).unwrap_or(1);
    if !(1..=MAX_SAMPLES).contains(&samples) {
        return Err(invalid(format!(
            "Image generation failed with the following error: sampleCount must be between 1 and {MAX_SAMPLES}."
        )));
    }
    let ratio = param("aspectRatio")
        .and_then(Value::as_str)
        .unwrap_or("1:1");
    if !RATIOS.contains(&ratio) {
        return Err(invalid(format!(
            "Image generation failed with the following error: Unsupported aspect ratio: {ratio}."
        )));
    }
    let mime = param("outputOptions")
        .and_then(|o| o.get("mimeType"))
        .and_then(Value::as_str)
        .unwrap_or("image/png");
    // The simulator writes PNG bytes whatever `mimeType` asks (JPEG is not generated).
    let _ = mime;
    let rai = param("includeRaiReason").and_then(Value::as_bool) == Some(true);
    if blocks_prompt(prompt) {
        let predictions: Vec<Value> = if rai {
            vec![
                json!({"raiFilteredReason": "Your current safety filter threshold filtered out the generated image (simulated)."}),
            ]
        } else {
            Vec::new()
        };
        return Ok(json!({"predictions": predictions}));
    }
    let enhance = param("enhancePrompt").and_then(Value::as_bool) == Some(true);
    let (w, h) = dimensions(&ratio.replace(':', "x"));
    let seed = hash(prompt.as_bytes());
    let predictions: Vec<Value> = (0..samples)
        .map(|i| {
            let bytes = png(seed ^ (i + 1).wrapping_mul(0x9e37_79b9), w, h);
            let mut p = json!({"bytesBase64Encoded": base64::engine::general_purpose::STANDARD.encode(bytes),
                "mimeType": "image/png"});
            if enhance {
                p["prompt"] = json!(format!("{prompt}, in soft light"));
            }
            p
        })
        .collect();
    Ok(json!({"predictions": predictions}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_and_filters() {
        let v = predict(br#"{"instances":[{"prompt":"a fox"}],"parameters":{"sampleCount":2,"aspectRatio":"16:9","enhancePrompt":true}}"#).unwrap();
        let p = v["predictions"].as_array().unwrap();
        assert_eq!(p.len(), 2);
        assert!(p[0]["prompt"].is_string());
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(p[0]["bytesBase64Encoded"].as_str().unwrap())
            .unwrap();
        assert_eq!(crate::gen::image::png_size(&bytes), Some((32, 18)));
        let v = predict(br#"{"instances":[{"prompt":"SIM_BLOCK_PROMPT"}],"parameters":{"includeRaiReason":true}}"#).unwrap();
        assert!(v["predictions"][0]["raiFilteredReason"].is_string());
        assert!(
            predict(br#"{"instances":[{"prompt":"x"}],"parameters":{"sampleCount":9}}"#).is_err()
        );
        assert!(predict(br#"{"instances":[]}"#).is_err());
    }
}
