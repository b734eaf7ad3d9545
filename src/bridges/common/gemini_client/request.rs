//! A Gemini client's `GenerateContentRequest`, read whole into [`Conversation`].
//!
//! Owns: the top-level members: `contents`, `systemInstruction`, `tools`, `toolConfig`,
//! `generationConfig`; `safetySettings` and `labels` dropped; `cachedContent` refused (no
//! other upstream holds Google's caches). Must never: read a member twice under both names.

use serde_json::Value;

use super::config::{self, Config};
use super::contents::{self, Turn};
use super::fields::get;
use super::tools::{self, Tools};
use crate::bridges::common::json::{arr, obj};
use crate::bridges::common::Side;
use crate::wire::ConvertError;

const REQ: Side = Side::Request;

/// A generate request in neutral form.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Conversation {
    /// `systemInstruction`'s text (empty: none).
    pub system: String,
    pub turns: Vec<Turn>,
    pub tools: Tools,
    pub config: Config,
}

/// Reads a `GenerateContentRequest`.
pub(crate) fn read(body: &Value) -> Result<Conversation, ConvertError> {
    let r = obj(body, "request body", REQ)?;
    if get(r, "cachedContent").is_some() {
        return Err(REQ.err("cachedContent is not supported by this model"));
    }
    let contents = match get(r, "contents") {
        Some(c) => arr(c, "contents", REQ)?,
        None => return Err(REQ.err("contents must be an array")),
    };
    Ok(Conversation {
        system: contents::system_text(get(r, "systemInstruction"))?,
        turns: contents::turns(contents)?,
        tools: tools::read(get(r, "tools"), get(r, "toolConfig"))?,
        config: config::read(get(r, "generationConfig"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_by_either_name_and_refusals() {
        let c = read(
            &json!({"contents":[{"role":"user","parts":[{"text":"Hi"}]}],
            "system_instruction":{"parts":[{"text":"Be brief."}]},
            "safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}],
            "generation_config":{"max_output_tokens":5}}),
        )
        .unwrap();
        assert_eq!(c.system, "Be brief.");
        assert_eq!(c.config.max_tokens, Some(5));
        assert_eq!(c.turns.len(), 1);
        assert!(
            read(&json!({"contents":[],"cachedContent":"cachedContents/x"}))
                .unwrap_err()
                .to_string()
                .contains("cachedContent")
        );
        assert!(read(&json!({}))
            .unwrap_err()
            .to_string()
            .contains("contents"));
        assert!(read(&json!([])).is_err());
    }
}
