//! The model methods both Google providers answer alike, once their own path and auth checks
//! passed: `generateContent`, `streamGenerateContent` (SSE with `alt=sse`, else a streamed
//! JSON array) and `countTokens`.
//! Owns the step from a checked request to its reply; must never check credentials.

use http::StatusCode;
use serde_json::{json, Value};

use super::models::Spec;
use super::{answer, output, request};
use crate::errors::ApiError;
use crate::http::reply::SimReply;
use crate::state::Ctx;
use crate::Provider;

/// Whether the query asks for SSE (`alt=sse`).
fn wants_sse(query: Option<&str>) -> bool {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query.unwrap_or(""))
        .unwrap_or_default()
        .iter()
        .any(|(k, v)| k == "alt" && v == "sse")
}

/// Answers `generateContent` (or, with `stream`, `streamGenerateContent`) for `model`.
pub(crate) fn generate(
    ctx: &Ctx,
    model: &str,
    stream: bool,
    query: Option<&str>,
    body: &[u8],
) -> Result<SimReply, ApiError> {
    let spec = Spec::of(model);
    let req = request::generate(body, spec)?;
    let a = answer::build(model, spec, &req, ctx.shared.ids.next(""));
    if !stream {
        return Ok(SimReply::json_pretty(
            StatusCode::OK,
            &output::response(ctx.provider, &a),
        ));
    }
    let chunks = output::chunks(ctx.provider, &a);
    Ok(if wants_sse(query) {
        SimReply::sse(output::sse(&chunks))
    } else {
        SimReply::json_array(output::array(&chunks))
    })
}

/// Answers `countTokens` for `model`: `{totalTokens, promptTokensDetails}`, and on Vertex AI
/// `totalBillableCharacters` too.
pub(crate) fn count_tokens(ctx: &Ctx, model: &str, body: &[u8]) -> Result<SimReply, ApiError> {
    let p = request::count(body, Spec::of(model))?;
    let media = p.media * super::content::MEDIA_TOKENS;
    let mut details = vec![json!({"modality": "TEXT", "tokenCount": p.tokens - media})];
    if media > 0 {
        details.push(json!({"modality": "IMAGE", "tokenCount": media}));
    }
    let mut out = json!({"totalTokens": p.tokens, "promptTokensDetails": Value::Array(details)});
    match ctx.provider {
        Provider::Vertex => out["totalBillableCharacters"] = p.chars.into(),
        Provider::Gemini
        | Provider::OpenAi
        | Provider::Anthropic
        | Provider::Xai
        | Provider::GoogleOAuth
        | Provider::Kling
        | Provider::Runway
        | Provider::Luma
        | Provider::Zhipu
        | Provider::Dashscope
        | Provider::Viggle => {}
    }
    Ok(SimReply::json_pretty(StatusCode::OK, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alt() {
        assert!(wants_sse(Some("alt=sse")));
        assert!(wants_sse(Some("key=AIza1&alt=sse")));
        assert!(!wants_sse(Some("alt=json")));
        assert!(!wants_sse(None));
    }
}
