//! Gemini's media request bodies, as the bridges to it ask for images and speech: a
//! `generateContent` body for an image model (`responseModalities: ["TEXT","IMAGE"]`,
//! `imageConfig.aspectRatio`) or a TTS model (`responseModalities: ["AUDIO"]`, a prebuilt
//! voice), and Imagen's `:predict` body (`instances[{prompt}]`, `parameters`).
//!
//! Owns: those shapes (providers-media.md section 4). Must never: know a client format, or
//! check values Google checks (an unknown voice or ratio is the upstream's 400).

use serde_json::{json, Value};

/// The prompt as the one user turn of a `generateContent` body.
fn one_turn(text: &str) -> Value {
    json!([{"role": "user", "parts": [{"text": text}]}])
}

/// A `generateContent` body asking an image model to draw `prompt`.
pub(crate) fn image_request(prompt: &str, aspect_ratio: Option<&str>) -> Value {
    let mut config = json!({"responseModalities": ["TEXT", "IMAGE"]});
    if let Some(r) = aspect_ratio {
        config["imageConfig"] = json!({ "aspectRatio": r });
    }
    json!({"contents": one_turn(prompt), "generationConfig": config})
}

/// A `generateContent` body asking a TTS model to speak `text` in the prebuilt voice `voice`.
pub(crate) fn speech_request(text: &str, voice: &str) -> Value {
    json!({
        "contents": one_turn(text),
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice}}},
        },
    })
}

/// What an Imagen `:predict` request asks.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ImagenAsk<'a> {
    pub(crate) prompt: &'a str,
    pub(crate) samples: u64,
    pub(crate) aspect_ratio: Option<&'a str>,
    /// `outputOptions.mimeType` (`image/png`, `image/jpeg`).
    pub(crate) mime_type: &'a str,
    /// `outputOptions.compressionQuality` (JPEG, 0-100).
    pub(crate) quality: Option<u64>,
}

/// Imagen's `:predict` body; `includeRaiReason` always, so that a filtered sample says why.
pub(crate) fn imagen_request(a: &ImagenAsk<'_>) -> Value {
    let mut output = json!({ "mimeType": a.mime_type });
    if let Some(q) = a.quality {
        output["compressionQuality"] = json!(q);
    }
    let mut parameters = json!({
        "sampleCount": a.samples,
        "includeRaiReason": true,
        "outputOptions": output,
    });
    if let Some(r) = a.aspect_ratio {
        parameters["aspectRatio"] = json!(r);
    }
    json!({"instances": [{"prompt": a.prompt}], "parameters": parameters})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        assert_eq!(
            image_request("a fox", Some("16:9")),
            json!({"contents":[{"role":"user","parts":[{"text":"a fox"}]}],
                "generationConfig":{"responseModalities":["TEXT","IMAGE"],
                "imageConfig":{"aspectRatio":"16:9"}}})
        );
        assert!(image_request("a", None)["generationConfig"]
            .get("imageConfig")
            .is_none());
        assert_eq!(
            speech_request("hi", "Kore")["generationConfig"]["speechConfig"]["voiceConfig"]
                ["prebuiltVoiceConfig"]["voiceName"],
            "Kore"
        );
        let v = imagen_request(&ImagenAsk {
            prompt: "a fox",
            samples: 2,
            aspect_ratio: Some("4:3"),
            mime_type: "image/jpeg",
            quality: Some(80),
        });
        assert_eq!(
            v,
            json!({"instances":[{"prompt":"a fox"}],"parameters":{"sampleCount":2,
                "includeRaiReason":true,"aspectRatio":"4:3",
                "outputOptions":{"mimeType":"image/jpeg","compressionQuality":80}}})
        );
    }
}
