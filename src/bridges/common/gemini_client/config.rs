//! A Gemini client's `generationConfig` in neutral form.
//!
//! Owns: which settings have a counterpart (sampling, length, stop sequences, seed,
//! penalties, JSON output), which are refused (`candidateCount > 1`, output other than text)
//! and which are dropped (thinking, logprobs, media resolution, speech). Must never: pass a
//! value of the wrong type on (a 400 naming the field).

use serde_json::{Map, Value};

use super::fields::get;
use super::schema::to_json_schema;
use crate::bridges::common::json::obj;
use crate::bridges::common::Side;
use crate::wire::ConvertError;

const REQ: Side = Side::Request;

/// The requested output format.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Output {
    Text,
    /// JSON, of this JSON Schema when one is given.
    Json(Option<Value>),
}

/// `generationConfig`, read.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Config {
    pub temperature: Option<Value>,
    pub top_p: Option<Value>,
    pub top_k: Option<Value>,
    pub max_tokens: Option<u64>,
    pub stop: Vec<String>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<Value>,
    pub frequency_penalty: Option<Value>,
    pub output: Output,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            temperature: None,
            top_p: None,
            top_k: None,
            max_tokens: None,
            stop: Vec::new(),
            seed: None,
            presence_penalty: None,
            frequency_penalty: None,
            output: Output::Text,
        }
    }
}

/// Reads `generationConfig` (absent: the defaults).
pub(crate) fn read(v: Option<&Value>) -> Result<Config, ConvertError> {
    let Some(v) = v else {
        return Ok(Config::default());
    };
    let g = obj(v, "generationConfig", REQ)?;
    if let Some(n) = get(g, "candidateCount") {
        match n.as_u64() {
            Some(0 | 1) => {}
            Some(_) => return Err(REQ.err("candidateCount > 1 is not supported by this model")),
            None => return Err(REQ.err("generationConfig.candidateCount must be an integer")),
        }
    }
    if let Some(m) = get(g, "responseModalities") {
        let text_only = m.as_array().is_some_and(|a| {
            a.iter()
                .all(|x| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case("TEXT")))
        });
        if !text_only {
            return Err(
                REQ.err("responseModalities other than TEXT are not supported by this model")
            );
        }
    }
    let stop = match get(g, "stopSequences") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| REQ.err("generationConfig.stopSequences must be strings"))?,
        Some(_) => return Err(REQ.err("generationConfig.stopSequences must be an array")),
    };
    let max_tokens = match get(g, "maxOutputTokens") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            REQ.err("generationConfig.maxOutputTokens must be a non-negative integer")
        })?),
    };
    let seed = match get(g, "seed") {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| REQ.err("generationConfig.seed must be an integer"))?,
        ),
    };
    Ok(Config {
        temperature: number(g, "temperature")?,
        top_p: number(g, "topP")?,
        top_k: number(g, "topK")?,
        max_tokens,
        stop,
        seed,
        presence_penalty: number(g, "presencePenalty")?,
        frequency_penalty: number(g, "frequencyPenalty")?,
        output: output(g)?,
    })
}

fn number(g: &Map<String, Value>, key: &str) -> Result<Option<Value>, ConvertError> {
    match get(g, key) {
        None => Ok(None),
        Some(v) if v.is_number() => Ok(Some(v.clone())),
        Some(_) => Err(REQ.err(format!("generationConfig.{key} must be a number"))),
    }
}

/// `responseMimeType` with `responseJsonSchema` (JSON Schema, as is) or `responseSchema`
/// (Gemini's, converted).
fn output(g: &Map<String, Value>) -> Result<Output, ConvertError> {
    let schema = match (get(g, "responseJsonSchema"), get(g, "responseSchema")) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(s)) => Some(to_json_schema(s, "generationConfig.responseSchema")?),
        (None, None) => None,
    };
    match get(g, "responseMimeType").map(|m| m.as_str()) {
        None | Some(Some("text/plain")) if schema.is_none() => Ok(Output::Text),
        None | Some(Some("application/json")) => Ok(Output::Json(schema)),
        Some(Some("text/plain")) => {
            Err(REQ.err("a response schema needs responseMimeType application/json"))
        }
        Some(Some(other)) => Err(REQ.err(format!(
            "responseMimeType {other} is not supported by this model"
        ))),
        Some(None) => Err(REQ.err("generationConfig.responseMimeType must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_are_read_by_either_name() {
        let c = read(Some(
            &json!({"temperature":0.7,"top_p":0.9,"topK":40,"maxOutputTokens":256,
            "stopSequences":["END"],"seed":7,"presencePenalty":0.1,"frequency_penalty":0.2,
            "candidateCount":1,"responseModalities":["TEXT"],"thinkingConfig":{"thinkingBudget":0},
            "responseMimeType":"application/json","responseSchema":{"type":"OBJECT"}}),
        ))
        .unwrap();
        assert_eq!(c.temperature, Some(json!(0.7)));
        assert_eq!(c.top_p, Some(json!(0.9)));
        assert_eq!(c.top_k, Some(json!(40)));
        assert_eq!(c.max_tokens, Some(256));
        assert_eq!(c.stop, ["END"]);
        assert_eq!(c.seed, Some(7));
        assert_eq!(c.frequency_penalty, Some(json!(0.2)));
        assert_eq!(c.output, Output::Json(Some(json!({"type":"object"}))));
        let js = read(Some(&json!({"responseMimeType":"application/json",
            "responseJsonSchema":{"type":"OBJECT"}})))
        .unwrap();
        assert_eq!(
            js.output,
            Output::Json(Some(json!({"type":"OBJECT"}))),
            "kept as it came"
        );
        let j = read(Some(&json!({"responseMimeType":"application/json"}))).unwrap();
        assert_eq!(j.output, Output::Json(None));
        assert_eq!(read(None).unwrap(), Config::default());
        assert_eq!(
            read(Some(&json!({"responseMimeType":"text/plain"})))
                .unwrap()
                .output,
            Output::Text
        );
    }

    #[test]
    fn refusals_name_the_field() {
        for (bad, word) in [
            (json!({"candidateCount":2}), "candidateCount"),
            (json!({"candidateCount":"2"}), "candidateCount"),
            (
                json!({"responseModalities":["IMAGE"]}),
                "responseModalities",
            ),
            (json!({"stopSequences":"END"}), "stopSequences"),
            (json!({"stopSequences":[1]}), "stopSequences"),
            (json!({"maxOutputTokens":-1}), "maxOutputTokens"),
            (json!({"seed":"x"}), "seed"),
            (json!({"temperature":"hot"}), "temperature"),
            (json!({"responseMimeType":"text/x.enum"}), "text/x.enum"),
            (json!({"responseMimeType":7}), "responseMimeType"),
            (
                json!({"responseMimeType":"text/plain","responseSchema":{}}),
                "application/json",
            ),
            (json!([]), "generationConfig"),
        ] {
            let e = read(Some(&bad)).unwrap_err().to_string();
            assert!(e.contains(word), "{bad}: {e}");
        }
    }
}
