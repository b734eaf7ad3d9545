//! The rows of [`Style`]: OpenAI's own, and one per OpenAI-compatible dialect, each with where
//! its facts come from. What could not be confirmed against the server's source or a captured
//! answer is marked "unconfirmed".
//! Owns the data of each dialect; must never hold logic (that is `style.rs`).

use super::spacing::Spacing;
use super::style::{FinishAt, IdStyle, Member, Style, UsageAt};

use Member::{Choices, Created, Fingerprint, Id, Model, Object, Usage};

/// OpenAI (providers.md §1.2): compact, `system_fingerprint`, `"usage": null` on every chunk
/// when usage is asked, the usage chunk has `"choices": []`.
pub(crate) const OPENAI: Style = Style {
    spacing: Spacing::Compact,
    members: &[Id, Object, Created, Model, Fingerprint, Choices, Usage],
    fingerprint: "fp_sim",
    ids: IdStyle::Hex,
    finish_first: false,
    null_finish: true,
    null_logprobs: true,
    stop_reason: false,
    null_usage: true,
    first_content_null: false,
    role_every_chunk: false,
    whole_tool_call: false,
    finish_at: FinishAt::OwnChunk,
    usage_at: UsageAt::OwnChunk,
    usage_unasked: false,
    usage_details: true,
    timings: false,
    tool_finish_stream: "tool_calls",
    tool_finish_json: "tool_calls",
    stream_as_json: false,
    any_model: false,
};

/// vLLM (`vllm/entrypoints/openai/serving_chat.py`): pydantic `model_dump_json(exclude_unset=
/// True)`, so compact and without `system_fingerprint` or `"usage": null`; ids
/// `chatcmpl-<32 hex>`; the finish reason rides on the chunk with the last token's text, with
/// `stop_reason` beside it; the usage chunk (only when asked) has `"choices": []`. A named or
/// `required` tool choice answered without streaming says `finish_reason: "stop"` beside its
/// `tool_calls` (vLLM PR #25054 lists it; the simulator does it for every tool call).
pub(crate) const VLLM: Style = Style {
    members: &[Id, Object, Created, Model, Choices, Usage],
    ids: IdStyle::Hex32,
    stop_reason: true,
    null_usage: false,
    finish_at: FinishAt::LastContent,
    usage_details: false,
    tool_finish_json: "stop",
    any_model: true,
    ..OPENAI
};

/// LiteLLM proxy (`proxy_server.py` `async_data_generator`: `model_dump_json(exclude_none=True)`;
/// issues BerriAI/litellm#8450, #28735): compact; members in `ModelResponseStream`'s order (`id`,
/// `created`, `model`, `object`, ...); `None` members left out, so no `finish_reason` while
/// open, no `logprobs`, no `system_fingerprint`; choices start with `finish_reason`; the last
/// chunk is an empty delta with the finish reason (PR #2692); the synthetic usage chunk holds
/// one empty choice, `[{"index":0,"delta":{}}]`. Ids `chatcmpl-<uuid>`.
pub(crate) const LITELLM: Style = Style {
    members: &[Id, Created, Model, Object, Choices, Usage],
    ids: IdStyle::Uuid,
    finish_first: true,
    null_finish: false,
    null_logprobs: false,
    null_usage: false,
    usage_at: UsageAt::OwnChunkEmptyChoice,
    usage_details: false,
    any_model: true,
    ..OPENAI
};

/// Ollama's `/v1` (`openai/openai.go`, `middleware/openai.go`): Go `encoding/json`, compact, in
/// struct order with `"system_fingerprint": "fp_ollama"`; ids `chatcmpl-<0..999>`; every delta
/// repeats `"role":"assistant"` and `content`; a tool call comes whole in one chunk; the usage
/// chunk (only when asked) is the last chunk again with `"choices": []`. Before ollama PR #7963
/// (2025) a streamed tool call ended with `finish_reason: "stop"`, which this dialect keeps.
/// No `logprobs` member in a choice.
pub(crate) const OLLAMA: Style = Style {
    fingerprint: "fp_ollama",
    ids: IdStyle::Number,
    null_logprobs: false,
    null_usage: false,
    role_every_chunk: true,
    whole_tool_call: true,
    usage_details: false,
    tool_finish_stream: "stop",
    any_model: true,
    ..OPENAI
};

/// llama.cpp `llama-server` (a captured stream: `{"choices":[{"finish_reason":null,"index":0,
/// "delta":{...}}],"created":…,"id":"chatcmpl-<32 alnum>","model":…,"system_fingerprint":
/// "b6097-9515c613","object":"chat.completion.chunk"}`): nlohmann `ordered_json`, compact,
/// `choices` first; the first delta is `{"role":"assistant","content":null}`; the finish chunk
/// has an empty delta and carries `usage` and `timings` even when usage was not asked
/// (unconfirmed: whether newer versions send a separate usage chunk when it is asked).
pub(crate) const LLAMA_CPP: Style = Style {
    members: &[Choices, Created, Id, Model, Fingerprint, Object, Usage],
    fingerprint: "b6097-9515c613",
    ids: IdStyle::Alnum,
    finish_first: true,
    null_logprobs: false,
    null_usage: false,
    first_content_null: true,
    usage_at: UsageAt::FinishChunk,
    usage_unasked: true,
    usage_details: false,
    timings: true,
    any_model: true,
    ..OPENAI
};

/// A small FastAPI clone writing `f"data: {json.dumps(chunk)}\n\n"` from hand-built dicts (the
/// pattern of many such servers; the exact members are unconfirmed): Python spacing, only `id`,
/// `model`, `choices` (no `object`, `created`, `system_fingerprint`); `finish_reason` null on
/// every chunk, the stream just ends with `[DONE]`; usage sent unasked on the last content chunk.
pub(crate) const FASTAPI: Style = Style {
    spacing: Spacing::Python,
    members: &[Id, Model, Choices, Usage],
    null_logprobs: false,
    null_usage: false,
    finish_at: FinishAt::Never,
    usage_at: UsageAt::LastChunk,
    usage_unasked: true,
    usage_details: false,
    any_model: true,
    ..OPENAI
};

/// A small Python server that ignores `stream` and always answers one `json.dumps` body with
/// `Content-Type: application/json`, also for `"stream": true` (unconfirmed which servers do
/// this; the shape a relay must survive).
pub(crate) const JSON_ONLY: Style = Style {
    spacing: Spacing::Python,
    members: &[Id, Object, Created, Model, Choices, Usage],
    null_logprobs: false,
    usage_details: false,
    stream_as_json: true,
    any_model: true,
    ..OPENAI
};
