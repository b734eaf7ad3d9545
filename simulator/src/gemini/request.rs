//! A `generateContent` or `countTokens` request, parsed and checked as Google does: unknown
//! names refused, then safety settings, contents, generation config and tools.
//! Owns the request as a whole; must never build answers.

use serde_json::{Map, Value};

use super::content::{self, Prompt};
use super::fields::{body_object, check_names, get, invalid_value};
use super::generation::{self, Generation};
use super::models::Spec;
use super::safety;
use super::tools::{self, Call};
use crate::errors::ApiError;

/// Every top-level field of a `GenerateContentRequest` (both APIs; proto names accepted).
const NAMES: [&str; 14] = [
    "contents",
    "systemInstruction",
    "generationConfig",
    "tools",
    "toolConfig",
    "safetySettings",
    "cachedContent",
    "labels",
    "serviceTier",
    "store",
    "continuationToken",
    "model",
    "modelArmorConfig",
    "outputConfig",
];

/// Every top-level field of a `CountTokensRequest` (the Gemini API's and Vertex AI's).
const COUNT_NAMES: [&str; 7] = [
    "contents",
    "generateContentRequest",
    "systemInstruction",
    "tools",
    "generationConfig",
    "model",
    "instances",
];

const GENERATE: &str = "GenerateContentRequest";
const COUNT: &str = "CountTokensRequest";

/// A checked `generateContent` request.
#[derive(Clone, Debug)]
pub(crate) struct Generate {
    pub(crate) prompt: Prompt,
    pub(crate) generation: Generation,
    /// The function to call (tools offered, not refused, and the user spoke last).
    pub(crate) call: Option<Call>,
}

fn contents(obj: &Map<String, Value>) -> Result<Option<&[Value]>, ApiError> {
    match get(obj, "contents") {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(invalid_value("contents", "Content", other)),
    }
}

fn tool_list(obj: &Map<String, Value>) -> Result<Option<&[Value]>, ApiError> {
    match get(obj, "tools") {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(invalid_value("tools", "Tool", other)),
    }
}

fn checked(obj: &Map<String, Value>, request: &str, spec: Spec) -> Result<Generate, ApiError> {
    check_names(obj, &NAMES, None)?;
    safety::check(get(obj, "safetySettings"))?;
    let prompt = content::prompt(request, get(obj, "systemInstruction"), contents(obj)?)?;
    let generation = generation::parse(request, get(obj, "generationConfig"), spec)?;
    let call = tools::choose(request, tool_list(obj)?, get(obj, "toolConfig"))?;
    Ok(Generate {
        call: call.filter(|_| prompt.user_spoke_last),
        prompt,
        generation,
    })
}

/// Parses and checks a `generateContent` body for a model of `spec`.
pub(crate) fn generate(body: &[u8], spec: Spec) -> Result<Generate, ApiError> {
    checked(&body_object(body)?, GENERATE, spec)
}

/// Parses and checks a `countTokens` body: `contents` (with, on Vertex AI, the system
/// instruction, tools and generation config), or a whole `generateContentRequest`.
pub(crate) fn count(body: &[u8], spec: Spec) -> Result<Prompt, ApiError> {
    let obj = body_object(body)?;
    check_names(&obj, &COUNT_NAMES, None)?;
    if let Some(inner) = get(&obj, "generateContentRequest") {
        let inner = inner
            .as_object()
            .ok_or_else(|| invalid_value("generate_content_request", GENERATE, inner))?;
        return Ok(checked(inner, GENERATE, spec)?.prompt);
    }
    content::prompt(COUNT, get(&obj, "systemInstruction"), contents(&obj)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec::of("gemini-2.0-flash")
    }

    #[test]
    fn generate_requests() {
        let body = br#"{"contents":[{"role":"user","parts":[{"text":"hi there"}]}],
            "system_instruction":{"parts":[{"text":"be brief"}]},
            "tools":[{"functionDeclarations":[{"name":"f"}]}]}"#;
        let g = generate(body, spec()).unwrap();
        assert_eq!(g.prompt.tokens, 2 + 3 + 2);
        assert_eq!(g.call.unwrap().name, "f");
        let e = generate(br#"{"contents":[],"stream":true}"#, spec()).unwrap_err();
        assert!(
            e.message.contains("Unknown name \"stream\""),
            "{}",
            e.message
        );
        let e = generate(br#"{}"#, spec()).unwrap_err();
        assert!(
            e.message.contains("GenerateContentRequest.contents"),
            "{}",
            e.message
        );
        assert!(generate(br#"{"contents":{}}"#, spec()).is_err());
        assert!(generate(b"not json", spec()).is_err());
    }

    #[test]
    fn count_requests() {
        let p = count(br#"{"contents":[{"parts":[{"text":"a b c"}]}]}"#, spec()).unwrap();
        assert_eq!(p.tokens, 6);
        let p = count(
            br#"{"generateContentRequest":{"model":"models/x","contents":[{"parts":[{"text":"a"}]}]}}"#,
            spec(),
        )
        .unwrap();
        assert_eq!(p.tokens, 4);
        let e = count(br#"{}"#, spec()).unwrap_err();
        assert!(e.message.contains("CountTokensRequest.contents"));
    }
}
