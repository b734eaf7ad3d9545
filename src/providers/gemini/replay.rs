//! A Gemini JSON answer to a stream request as the stream it stands for: the whole
//! `GenerateContentResponse` is one chunk (it has the `finishReason` and final
//! `usageMetadata` a last chunk has); a streamed JSON array (Google's stream without
//! `alt=sse`) is one chunk per element.
//!
//! Owns: telling a Gemini error body (`{"error":{...}}`, or Vertex's `[{"error":{...}}]`) from
//! an answer, and those chunks. Must never: read beyond the answer it is given.

use super::super::replay::{invalid, not_streamed, Events};
use crate::upstream::UpstreamError;
use crate::wire::Endpoint;
use serde_json::Value;

fn has_error(v: &Value) -> bool {
    v.get("error").is_some_and(Value::is_object)
}

/// An error body, alone or as the element of an array.
pub(crate) fn is_error(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.iter().any(has_error),
        other => has_error(other),
    }
}

/// The chunks of the answer `v` on `op`.
pub(crate) fn events(op: Endpoint, v: &Value, out: &mut Events) -> Result<(), UpstreamError> {
    match op {
        Endpoint::GenerateContent | Endpoint::Chat | Endpoint::Messages => {}
        Endpoint::Completions
        | Endpoint::Embeddings
        | Endpoint::CountTokens
        | Endpoint::EmbedContent
        | Endpoint::BatchEmbedContents
        | Endpoint::ImageGenerations
        | Endpoint::ImageEdits
        | Endpoint::ImageVariations
        | Endpoint::Speech
        | Endpoint::Transcriptions
        | Endpoint::Translations
        | Endpoint::Moderations
        | Endpoint::Videos => return Err(not_streamed()),
    }
    let chunks = match v {
        Value::Array(a) => a.as_slice(),
        other => std::slice::from_ref(other),
    };
    if chunks.is_empty() || !chunks.iter().all(Value::is_object) {
        return Err(invalid("is not a GenerateContentResponse"));
    }
    for c in chunks {
        out.put(None, c);
    }
    Ok(())
}
