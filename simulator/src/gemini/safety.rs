//! Safety: the `safetySettings` a request may give, and how a prompt asks the simulated model
//! for a refusal: the word `SIM_BLOCK_PROMPT` anywhere in the prompt blocks it
//! (`promptFeedback.blockReason: SAFETY`, no candidates); `SIM_FINISH_SAFETY`,
//! `SIM_FINISH_RECITATION` or `SIM_FINISH_OTHER` ends each candidate early (half its words)
//! with that `finishReason`.
//! Owns those words and the safety JSON; must never decide the words of an answer.

use serde_json::{json, Value};

use super::fields::{get, invalid_value};
use crate::errors::ApiError;

const CATEGORIES: [&str; 11] = [
    "HARM_CATEGORY_UNSPECIFIED",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
    "HARM_CATEGORY_IMAGE_HATE",
    "HARM_CATEGORY_IMAGE_DANGEROUS_CONTENT",
    "HARM_CATEGORY_IMAGE_HARASSMENT",
    "HARM_CATEGORY_IMAGE_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_JAILBREAK",
];

const THRESHOLDS: [&str; 6] = [
    "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
    "BLOCK_LOW_AND_ABOVE",
    "BLOCK_MEDIUM_AND_ABOVE",
    "BLOCK_ONLY_HIGH",
    "BLOCK_NONE",
    "OFF",
];

/// The prompt word that blocks the prompt.
pub(crate) const BLOCK_PROMPT: &str = "SIM_BLOCK_PROMPT";

/// How a candidate ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    Stop,
    MaxTokens,
    Safety,
    Recitation,
    Other,
}

impl Finish {
    /// The `finishReason` word.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Finish::Stop => "STOP",
            Finish::MaxTokens => "MAX_TOKENS",
            Finish::Safety => "SAFETY",
            Finish::Recitation => "RECITATION",
            Finish::Other => "OTHER",
        }
    }

    /// Whether the answer was stopped by a filter (and so cut short).
    pub(crate) fn is_block(self) -> bool {
        match self {
            Finish::Safety | Finish::Recitation | Finish::Other => true,
            Finish::Stop | Finish::MaxTokens => false,
        }
    }
}

/// The early finish the prompt asks for, if any.
pub(crate) fn asked_finish(prompt: &str) -> Option<Finish> {
    let has = |word: &str| prompt.split_whitespace().any(|w| w.contains(word));
    [
        ("SIM_FINISH_SAFETY", Finish::Safety),
        ("SIM_FINISH_RECITATION", Finish::Recitation),
        ("SIM_FINISH_OTHER", Finish::Other),
    ]
    .into_iter()
    .find_map(|(word, finish)| has(word).then_some(finish))
}

/// Whether the prompt asks to be blocked.
pub(crate) fn blocks_prompt(prompt: &str) -> bool {
    prompt.split_whitespace().any(|w| w.contains(BLOCK_PROMPT))
}

/// Safety ratings; `blocked` marks the one that stopped the answer.
pub(crate) fn ratings(blocked: bool) -> Value {
    let rating = |category: &str, high: bool| {
        let mut r =
            json!({"category": category, "probability": if high { "HIGH" } else { "NEGLIGIBLE" }});
        if high {
            r["blocked"] = Value::Bool(true);
        }
        r
    };
    json!([
        rating("HARM_CATEGORY_HATE_SPEECH", false),
        rating("HARM_CATEGORY_DANGEROUS_CONTENT", blocked),
        rating("HARM_CATEGORY_HARASSMENT", false),
        rating("HARM_CATEGORY_SEXUALLY_EXPLICIT", false),
    ])
}

/// Checks `safetySettings`: known categories and thresholds.
pub(crate) fn check(settings: Option<&Value>) -> Result<(), ApiError> {
    let Some(settings) = settings else {
        return Ok(());
    };
    let list = settings
        .as_array()
        .ok_or_else(|| invalid_value("safety_settings", "SafetySetting", settings))?;
    for (i, s) in list.iter().enumerate() {
        let obj = s
            .as_object()
            .ok_or_else(|| invalid_value(&format!("safety_settings[{i}]"), "SafetySetting", s))?;
        for (field, ty, known) in [
            ("category", "HarmCategory", &CATEGORIES[..]),
            (
                "threshold",
                "SafetySetting.HarmBlockThreshold",
                &THRESHOLDS[..],
            ),
        ] {
            let v = get(obj, field).cloned().unwrap_or(Value::Null);
            if !v.as_str().is_some_and(|w| known.contains(&w)) {
                return Err(invalid_value(
                    &format!("safety_settings[{i}].{field}"),
                    ty,
                    &v,
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_settings() {
        assert_eq!(
            asked_finish("user:please SIM_FINISH_SAFETY now"),
            Some(Finish::Safety)
        );
        assert_eq!(asked_finish("user:nothing"), None);
        assert!(blocks_prompt("user:x SIM_BLOCK_PROMPT"));
        assert!(check(Some(
            &json!([{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}])
        ))
        .is_ok());
        let e = check(Some(
            &json!([{"category": "HARM_CATEGORY_FOO", "threshold": "OFF"}]),
        ))
        .unwrap_err();
        assert!(
            e.message.contains("safety_settings[0].category"),
            "{}",
            e.message
        );
        assert!(check(Some(&json!([{"category": "HARM_CATEGORY_HARASSMENT"}]))).is_err());
    }
}
