//! Google's media words: which models answer with media and how (Imagen's `:predict`, the
//! `inlineData` parts of image and TTS models), the PCM of a TTS answer, and the tokens
//! `usageMetadata` counts per modality.
//!
//! Owns: those facts (providers-media.md section 4). Must never: read a client's words, or
//! fail on an odd value (what it cannot read it says it cannot).

use crate::wire::count;
use serde_json::Value;

/// The `imageConfig.aspectRatio`s Gemini image models take.
pub(crate) const IMAGE_MODEL_RATIOS: &[&str] = &[
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
];

/// The `aspectRatio`s Imagen takes.
pub(crate) const IMAGEN_RATIOS: &[&str] = &["1:1", "3:4", "4:3", "9:16", "16:9"];

/// Whether `model` is an Imagen model, answered by `:predict` (on Vertex AI only).
pub(crate) fn is_imagen(model: &str) -> bool {
    model.starts_with("imagen-")
}

/// The sample rate of headerless 16-bit PCM as a TTS model names it
/// (`audio/L16;codec=pcm;rate=24000`); `None` when the type is not L16 PCM. An L16 type that
/// names no rate is Google's 24 kHz.
pub(crate) fn pcm_rate(mime: &str) -> Option<u32> {
    let mut params = mime.split(';').map(str::trim);
    let base = params.next()?;
    if !base.eq_ignore_ascii_case("audio/L16") && !base.eq_ignore_ascii_case("audio/pcm") {
        return None;
    }
    let mut rate = TTS_RATE;
    for p in params {
        if let Some((k, v)) = p.split_once('=') {
            if k.trim().eq_ignore_ascii_case("rate") {
                rate = v.trim().parse().ok().filter(|r| *r > 0)?;
            }
        }
    }
    Some(rate)
}

/// The rate Gemini's TTS models speak at (and OpenAI's `pcm` is).
pub(crate) const TTS_RATE: u32 = 24_000;

/// The tokens of one modality (`TEXT`, `IMAGE`, `AUDIO`) in a `usageMetadata` details list
/// (`promptTokensDetails`, `candidatesTokensDetails`).
pub(crate) fn modality_tokens(usage: &Value, details: &str, modality: &str) -> u64 {
    usage
        .get(details)
        .and_then(Value::as_array)
        .map_or(0, |list| {
            list.iter()
                .filter(|d| d.get("modality").and_then(Value::as_str) == Some(modality))
                .map(|d| count(d.get("tokenCount")))
                .sum()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn imagen_models_and_pcm_types() {
        assert!(is_imagen("imagen-4.0-generate-001"));
        assert!(!is_imagen("gemini-2.5-flash-image"));
        assert_eq!(pcm_rate("audio/L16;codec=pcm;rate=24000"), Some(24_000));
        assert_eq!(pcm_rate("audio/l16; rate=16000"), Some(16_000));
        assert_eq!(pcm_rate("audio/L16"), Some(TTS_RATE));
        assert_eq!(pcm_rate("audio/L16;rate=x"), None);
        assert_eq!(pcm_rate("audio/mpeg"), None);
    }

    #[test]
    fn tokens_by_modality() {
        let u = json!({"candidatesTokensDetails":[{"modality":"TEXT","tokenCount":3},
            {"modality":"IMAGE","tokenCount":1290}]});
        assert_eq!(
            modality_tokens(&u, "candidatesTokensDetails", "IMAGE"),
            1290
        );
        assert_eq!(modality_tokens(&u, "candidatesTokensDetails", "AUDIO"), 0);
        assert_eq!(modality_tokens(&u, "promptTokensDetails", "TEXT"), 0);
    }
}
