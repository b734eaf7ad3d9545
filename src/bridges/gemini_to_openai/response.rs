//! Non-streaming OpenAI `chat.completion` -> Gemini `GenerateContentResponse`.
//!
//! Owns: `chat_response_to_generate`: reasoning as a thought part, then the text, then one
//! `functionCall` part per tool call (its id kept). Must never: read beyond `choices[0]`.

use serde_json::Value;

use crate::bridges::common::chat_answer;
use crate::bridges::common::gemini_client::answer::{self, Named};
use crate::bridges::common::json::{parse_arguments, reprefix};
use crate::wire::{ConvertError, Usage};

/// Convert a `chat.completion` into a Gemini answer for a client that asked for
/// `client_model`, with the upstream's usage (zeros if it sent none).
pub(crate) fn chat_response_to_generate(
    resp: &Value,
    client_model: &str,
) -> Result<(Value, Usage), ConvertError> {
    let a = chat_answer::read(resp)?;
    let mut parts = Vec::with_capacity(a.calls.len() + 2);
    if !a.reasoning.is_empty() {
        parts.push(answer::text(&a.reasoning, true));
    }
    if !a.text.is_empty() {
        parts.push(answer::text(&a.text, false));
    }
    for c in &a.calls {
        parts.push(answer::call(
            c.id.as_deref(),
            &c.name,
            parse_arguments(&c.arguments),
        ));
    }
    let id = reprefix(a.id.as_deref(), &["chatcmpl-"], "");
    let named = Named {
        model: client_model,
        id: &id,
    };
    let r = answer::response(&named, parts, Some(a.stop), Some(a.usage));
    Ok((r, a.usage))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conv(resp: Value) -> (Value, Usage) {
        chat_response_to_generate(&resp, "gemini-alias").unwrap()
    }

    #[test]
    fn text_answer_with_usage() {
        let (out, usage) = conv(json!({"id":"chatcmpl-7Xq","object":"chat.completion",
            "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null},
            "finish_reason":"stop"}],
            "usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,
                "prompt_tokens_details":{"cached_tokens":4}}}));
        assert_eq!(
            out,
            json!({"candidates":[{"content":{"role":"model","parts":[{"text":"Hello!"}]},
            "finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":3,"totalTokenCount":12,
                "cachedContentTokenCount":4},
            "modelVersion":"gemini-alias","responseId":"7Xq"})
        );
        assert_eq!(usage.prompt_tokens, 9);
    }

    #[test]
    fn tool_calls_reasoning_and_stop_reasons() {
        let (out, _) = conv(
            json!({"choices":[{"message":{"role":"assistant","content":null,
            "reasoning_content":"think",
            "tool_calls":[{"id":"call_9","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"type":"function","function":{"name":"cut","arguments":"{\"a\":"}}]},
            "finish_reason":"stop"}]}),
        );
        assert_eq!(
            out["candidates"][0]["content"]["parts"],
            json!([{"text":"think","thought":true},
                {"functionCall":{"id":"call_9","name":"get_weather","args":{"city":"Paris"}}},
                {"functionCall":{"name":"cut","args":{"_raw":"{\"a\":"}}}])
        );
        assert_eq!(out["candidates"][0]["finishReason"], "STOP");
        assert_eq!(out["usageMetadata"]["totalTokenCount"], 0);
        for (finish, word) in [
            ("length", "MAX_TOKENS"),
            ("content_filter", "SAFETY"),
            ("odd", "OTHER"),
        ] {
            let (out, _) =
                conv(json!({"choices":[{"message":{"content":"x"},"finish_reason":finish}]}));
            assert_eq!(out["candidates"][0]["finishReason"], word, "{finish}");
        }
        let (out, _) = conv(
            json!({"choices":[{"message":{"content":null,"refusal":"no"},"finish_reason":"stop"}]}),
        );
        assert_eq!(out["candidates"][0]["finishReason"], "SAFETY");
        assert_eq!(out["candidates"][0]["content"]["parts"][0]["text"], "no");
        let (out, _) =
            conv(json!({"choices":[{"message":{"content":""},"finish_reason":"content_filter"}]}));
        assert!(out["candidates"][0].get("content").is_none());
    }

    #[test]
    fn malformed_answers_are_the_upstreams() {
        for bad in [
            json!([]),
            json!({"error":{"message":"x"}}),
            json!({"choices":[]}),
            json!({"choices":[{"message":7}]}),
            json!({"choices":[{"message":{"tool_calls":[{"function":{"arguments":"{}"}}]}}]}),
            json!({"choices":[{"message":{"tool_calls":{}}}]}),
            json!({"choices":[{"message":{"content":"x"},"finish_reason":3}]}),
        ] {
            assert!(
                matches!(
                    chat_response_to_generate(&bad, "m"),
                    Err(ConvertError::InvalidUpstream(_))
                ),
                "{bad}"
            );
        }
    }
}
