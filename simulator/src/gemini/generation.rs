//! `generationConfig`: the length, stop sequences, candidates, JSON output and thinking a
//! request asks for, checked as Google checks them.
//! Owns those rules and their wording; must never build answers.

use serde::Deserialize;
use serde_json::Value;

use super::fields::{check_names, invalid, typed};
use super::models::{Output, Spec, Thinking};
use crate::errors::ApiError;

/// Every field `generationConfig` may hold (JSON names; the proto names are accepted too).
const NAMES: [&str; 28] = [
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "enableEnhancedCivicAnswers",
    "speechConfig",
    "thinkingConfig",
    "imageConfig",
    "mediaResolution",
    "audioTimestamp",
    "routingConfig",
    "modelSelectionConfig",
    "modelConfig",
    "audioTranscriptionConfig",
    "enableAffectiveDialog",
    "responseFormat",
    "labels",
];

const MIME_TYPES: [&str; 5] = [
    "text/plain",
    "application/json",
    "application/xml",
    "application/yaml",
    "text/x.enum",
];

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Raw {
    #[serde(alias = "max_output_tokens")]
    max_output_tokens: Option<i64>,
    #[serde(alias = "stop_sequences")]
    stop_sequences: Option<Vec<String>>,
    temperature: Option<f64>,
    #[serde(alias = "top_p")]
    top_p: Option<f64>,
    #[serde(alias = "candidate_count")]
    candidate_count: Option<i64>,
    #[serde(alias = "response_mime_type")]
    response_mime_type: Option<String>,
    #[serde(alias = "response_schema")]
    response_schema: Option<Value>,
    #[serde(alias = "response_json_schema")]
    response_json_schema: Option<Value>,
    #[serde(alias = "thinking_config")]
    thinking_config: Option<RawThinking>,
    #[serde(alias = "response_modalities")]
    response_modalities: Option<Vec<String>>,
    #[serde(alias = "image_config")]
    image_config: Option<RawImageConfig>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawImageConfig {
    #[serde(alias = "aspect_ratio")]
    aspect_ratio: Option<String>,
}

/// What the answer carries besides (or instead of) text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Media {
    /// Text only.
    #[default]
    None,
    /// Text and one PNG `inlineData` part (image models, `responseModalities` with `IMAGE`),
    /// at `imageConfig.aspectRatio` (default `1:1`).
    Image(String),
    /// Only an `audio/L16;codec=pcm;rate=24000` `inlineData` part (`*-tts` models,
    /// `responseModalities: ["AUDIO"]`).
    Audio,
}

/// Reads `responseModalities` for a model of `output`: IMAGE only for image models, AUDIO only for TTS
/// models (the refusal's wording is the simulator's: unconfirmed).
fn media(output: Output, modalities: &[String], ratio: Option<String>) -> Result<Media, ApiError> {
    let wants = |m: &str| modalities.iter().any(|x| x.eq_ignore_ascii_case(m));
    let refuse = |m: &str| {
        invalid(format!(
            "The requested combination of response modalities ({m}) is not supported by the model."
        ))
    };
    if wants("AUDIO") {
        return if output == Output::Speech {
            Ok(Media::Audio)
        } else {
            Err(refuse("AUDIO"))
        };
    }
    if wants("IMAGE") {
        return if output == Output::Image {
            Ok(Media::Image(ratio.unwrap_or_else(|| "1:1".to_owned())))
        } else {
            Err(refuse("IMAGE"))
        };
    }
    Ok(Media::None)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawThinking {
    #[serde(alias = "thinking_budget")]
    thinking_budget: Option<i64>,
    #[serde(alias = "include_thoughts")]
    include_thoughts: Option<bool>,
}

/// What the request asks of the answer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Generation {
    /// `maxOutputTokens` (0 means unset, as in proto3).
    pub(crate) max_tokens: Option<u64>,
    pub(crate) stops: Vec<String>,
    /// `candidateCount`, 1..=8.
    pub(crate) candidates: u64,
    /// `Some(schema)` for `responseMimeType: application/json` (the schema if given).
    pub(crate) json: Option<Option<Value>>,
    /// Thought words, when the model thinks for this request.
    pub(crate) thoughts: Option<u64>,
    /// `thinkingConfig.includeThoughts`: show the thoughts as `thought: true` parts.
    pub(crate) include_thoughts: bool,
    /// An image or audio part asked for by `responseModalities`.
    pub(crate) media: Media,
}

/// "Unable to submit request because it has a NAME value of V but the supported range is
/// from LO (inclusive) to HI (exclusive)." (Vertex AI's wording; the Gemini API's differs,
/// unconfirmed).
fn out_of_range(
    name: &str,
    value: impl std::fmt::Display,
    lo: impl std::fmt::Display,
    hi: impl std::fmt::Display,
) -> ApiError {
    invalid(format!(
        "Unable to submit request because it has a {name} value of {value} but the supported range is from {lo} (inclusive) to {hi} (exclusive). Update the value and try again."
    ))
}

/// Thought words when thinking is on (at most the budget).
const THOUGHT_WORDS: u64 = 8;

/// Checks `generationConfig` for `model` and reads what it asks.
pub(crate) fn parse(
    request: &str,
    config: Option<&Value>,
    spec: Spec,
) -> Result<Generation, ApiError> {
    let raw: Raw = match config {
        None => Raw::default(),
        Some(v) => {
            let obj = v.as_object().ok_or_else(|| {
                invalid("Invalid JSON payload received. Invalid value at 'generation_config'")
            })?;
            check_names(obj, &NAMES, Some("generation_config"))?;
            typed(v, "generation_config")?
        }
    };
    let max_tokens = match raw.max_output_tokens {
        None | Some(0) => None,
        Some(n) if n < 0 || n as u64 > spec.output_limit => {
            return Err(out_of_range("maxOutputTokens", n, 1, spec.output_limit + 1))
        }
        Some(n) => Some(n as u64),
    };
    if let Some(t) = raw.temperature.filter(|t| !(0.0..=2.0).contains(t)) {
        return Err(out_of_range("temperature", t, 0, 2.0001));
    }
    if let Some(p) = raw.top_p.filter(|p| !(0.0..=1.0).contains(p)) {
        return Err(out_of_range("topP", p, 0, 1.0001));
    }
    let candidates = match raw.candidate_count {
        None | Some(0) => 1,
        Some(n @ 1..=8) => n as u64,
        Some(n) => return Err(out_of_range("candidateCount", n, 1, 9)),
    };
    let stops = raw.stop_sequences.unwrap_or_default();
    if stops.len() > 5 {
        return Err(invalid(format!(
            "* {request}.generation_config.stop_sequences: at most 5 stop sequences are allowed.\n"
        )));
    }
    let json = match raw.response_mime_type.as_deref() {
        None | Some("") | Some("text/plain") => None,
        Some("application/json") => Some(raw.response_json_schema.or(raw.response_schema)),
        Some(m) if MIME_TYPES.contains(&m) => None,
        Some(_) => {
            return Err(invalid(format!(
                "* {request}.generation_config.response_mime_type: allowed mimetypes are `text/plain`, `application/json`, `application/xml`, `application/yaml` and `text/x.enum`.\n"
            )))
        }
    };
    let thinking = raw.thinking_config.unwrap_or_default();
    let thoughts = match (spec.thinking, thinking.thinking_budget) {
        (Thinking::No, _) => None,
        (_, Some(b)) if b < -1 => {
            return Err(invalid(format!(
                "The thinking budget {b} is invalid. Please choose a value between -1 and 32768."
            )))
        }
        (Thinking::Required, Some(0)) => {
            return Err(invalid(
                "Budget 0 is invalid. This model only works in thinking mode.",
            ))
        }
        (Thinking::Optional, Some(0)) => None,
        (_, Some(b @ 1..)) => Some((b as u64).min(THOUGHT_WORDS)),
        (_, _) => Some(THOUGHT_WORDS),
    };
    let media = media(
        spec.output,
        &raw.response_modalities.unwrap_or_default(),
        raw.image_config.and_then(|c| c.aspect_ratio),
    )?;
    Ok(Generation {
        media,
        max_tokens,
        stops,
        candidates,
        json,
        include_thoughts: thoughts.is_some() && thinking.include_thoughts.unwrap_or(false),
        thoughts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(model: &str, v: Value) -> Result<Generation, String> {
        parse("GenerateContentRequest", Some(&v), Spec::of(model)).map_err(|e| e.message)
    }

    #[test]
    fn reads_and_refuses() {
        let g = run(
            "gemini-2.0-flash",
            json!({"max_output_tokens": 5, "stopSequences": ["x"], "candidateCount": 2}),
        )
        .unwrap();
        assert_eq!((g.max_tokens, g.candidates, g.thoughts), (Some(5), 2, None));
        assert_eq!(
            run("gemini-2.0-flash", json!({"maxOutputTokens": 0}))
                .unwrap()
                .max_tokens,
            None
        );
        assert!(run("gemini-2.0-flash", json!({"maxOutputTokens": 9000}))
            .unwrap_err()
            .contains("supported range"));
        assert!(run("gemini-2.0-flash", json!({"temperature": 3})).is_err());
        assert!(run("gemini-2.0-flash", json!({"candidateCount": 9})).is_err());
        assert!(
            run("gemini-2.0-flash", json!({"responseMimeType": "image/png"}))
                .unwrap_err()
                .contains("allowed mimetypes")
        );
        assert!(run("gemini-2.0-flash", json!({"maxTokens": 3}))
            .unwrap_err()
            .contains("Unknown name \"maxTokens\" at 'generation_config'"));
        assert!(run("gemini-2.0-flash", json!({"maxOutputTokens": "x"}))
            .unwrap_err()
            .contains("Invalid value"));
        let g = run(
            "gemini-2.5-flash",
            json!({"thinkingConfig": {"includeThoughts": true}}),
        )
        .unwrap();
        assert_eq!((g.thoughts, g.include_thoughts), (Some(8), true));
        assert_eq!(
            run(
                "gemini-2.5-flash",
                json!({"thinking_config": {"thinking_budget": 0}})
            )
            .unwrap()
            .thoughts,
            None
        );
        assert!(run(
            "gemini-2.5-pro",
            json!({"thinkingConfig": {"thinkingBudget": 0}})
        )
        .unwrap_err()
        .contains("only works in thinking mode"));
        let g = run(
            "gemini-2.0-flash",
            json!({"responseMimeType": "application/json", "responseSchema": {"type": "OBJECT"}}),
        )
        .unwrap();
        assert_eq!(g.json, Some(Some(json!({"type": "OBJECT"}))));
    }
}
