//! The video seam: what the relay asks of an upstream that makes videos as async tasks, in
//! neutral words.
//!
//! Owns: the [`VideoApi`] trait (submit, poll, content, cancel, callbacks, the native routes'
//! shapes), the neutral types it speaks ([`VideoSpec`], [`Submitted`], [`PollReport`],
//! [`Content`]) and the one registration point [`video_api_for`]. Each provider implements it in
//! its own folder (`providers/<name>/video.rs`).
//! Must never: do I/O (the poller and the video front send what it builds, through the upstream
//! client), keep state between calls (a task's state is in the store), or let a provider's words
//! out: status words become a [`TaskState`], progress 0-100, errors an [`UpstreamFault`] or a
//! [`TaskFailure`].

use super::Target;
use crate::config::ProviderKind;
use crate::tasks::{TaskFailure, TaskState};
use crate::upstream::{Redactor, UpstreamRequest};
use crate::wire::UpstreamFault;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};
use std::time::Duration;

/// A video to make, in the OpenAI video API's terms (every front maps to these).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VideoSpec {
    /// The upstream's model name (mapped).
    pub model: String,
    pub prompt: String,
    /// Seconds asked (`"4"`, `"8"`, `"12"` on Sora; a provider rounds to what it offers).
    pub seconds: Option<u32>,
    /// `WIDTHxHEIGHT` (`1280x720`); providers that take a ratio or a resolution derive it.
    pub size: Option<String>,
    /// The first frame (Sora's `input_reference`, Kling's `image`, Runway's `promptImage`...).
    pub image: Option<ImageInput>,
    /// The upstream task to remix (Sora's `POST /videos/{id}/remix`): its upstream id.
    pub remix_of: Option<String>,
    /// Where the upstream should report state changes, for providers that take one (Kling,
    /// Luma): the task's signed callback URL.
    pub callback_url: Option<String>,
    /// Provider-native fields the client sent (new-api's `metadata`, a native route's body),
    /// merged over what the provider builds from the fields above.
    pub extra: Map<String, Value>,
}

/// An input image: a URL the upstream fetches, or the bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum ImageInput {
    Url(String),
    Bytes { mime: String, data: Bytes },
}

/// What the upstream said when a task was created.
#[derive(Clone, Debug, PartialEq)]
pub struct Submitted {
    /// The upstream's id for the task (private: clients see the relay's).
    pub upstream_id: String,
    /// What else the provider needs to poll it later (Kling's action path, a Veo operation
    /// name): stored with the task, given back in [`TaskRef::upstream_ref`].
    pub upstream_ref: Option<String>,
    /// The state the answer already told (a provider that answers with the whole task).
    pub report: Option<PollReport>,
}

/// One reading of a task's state upstream.
#[derive(Clone, Debug, PartialEq)]
pub struct PollReport {
    /// Queued, in progress, completed, failed or cancelled as the upstream said it (the relay
    /// adds `expired` itself).
    pub state: TaskState,
    /// 0-100 when the upstream says (Runway's 0-1 scaled, Kling's none derived by the relay).
    pub progress: Option<u8>,
    /// Where the result is, once completed.
    pub result: Option<VideoResult>,
    /// Why it failed (a failed task's reason, redacted).
    pub failure: Option<TaskFailure>,
    /// When the upstream asks to be polled again (`openai-poll-after-ms`, `retry-after`).
    pub poll_after: Option<Duration>,
    /// The length of the video made, when the upstream says (for settling the charge).
    pub seconds: Option<f64>,
}

impl PollReport {
    /// A report of `state` and nothing else.
    pub fn of(state: TaskState) -> Self {
        Self {
            state,
            progress: None,
            result: None,
            failure: None,
            poll_after: None,
            seconds: None,
        }
    }
}

/// Where a completed task's video is.
#[derive(Clone, Debug, PartialEq)]
pub enum VideoResult {
    /// A URL the relay fetches (with no credentials: a signed CDN link).
    Url(String),
    /// The provider's own content operation serves it ([`VideoApi::content`] builds it).
    Upstream,
}

/// Which file of a video a client asks for (`?variant=` on Sora's content route).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Video,
    Thumbnail,
    Spritesheet,
}

impl Variant {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "video" => Some(Self::Video),
            "thumbnail" => Some(Self::Thumbnail),
            "spritesheet" => Some(Self::Spritesheet),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Thumbnail => "thumbnail",
            Self::Spritesheet => "spritesheet",
        }
    }
}

/// What the relay needs of a stored task to ask the upstream about it.
#[derive(Clone, Copy, Debug)]
pub struct TaskRef<'a> {
    pub upstream_id: &'a str,
    pub upstream_ref: Option<&'a str>,
    /// The upstream's model name.
    pub model: &'a str,
    /// The result URL the last poll reported, if any.
    pub result_url: Option<&'a str>,
}

/// Reads a JSON answer holding a file inline: its content type and bytes.
pub type Decode = fn(&[u8]) -> Result<(String, Bytes), VideoError>;

/// How to fetch a completed task's bytes.
pub enum Content {
    /// Send this; its answer's body is the file (streamed to the client, `Range` passed).
    Fetch(UpstreamRequest),
    /// Send this; its answer is JSON that holds the file inline (Veo's base64 bytes), which
    /// `decode` turns into `(content type, bytes)`. Bounded by the response body limit.
    Decode {
        request: UpstreamRequest,
        decode: Decode,
    },
}

/// Why a video operation could not be built or its answer read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VideoError {
    /// The client asked for something this provider does not offer (a remix, a variant, an
    /// input it cannot take): the client's 400.
    #[error("{0}")]
    Unsupported(String),
    /// A 2xx answer that says the call failed (Kling's `code` other than 0): read as an error.
    #[error("upstream refused: {}", .0.message_or_default())]
    Refused(Box<UpstreamFault>),
    /// An answer that does not read as the provider's shape.
    #[error("upstream sent an invalid answer: {0}")]
    Invalid(String),
}

/// One upstream's async video API.
pub trait VideoApi: Send + Sync {
    /// The request that creates a task (multipart or JSON as the provider takes it).
    fn submit(&self, target: &Target<'_>, spec: &VideoSpec) -> Result<UpstreamRequest, VideoError>;

    /// Reads a 2xx answer to [`VideoApi::submit`].
    fn read_submit(&self, body: &[u8], redactor: &Redactor) -> Result<Submitted, VideoError>;

    /// The request that reads a task's state.
    fn poll(&self, target: &Target<'_>, task: &TaskRef<'_>) -> UpstreamRequest;

    /// Reads a 2xx answer to [`VideoApi::poll`] (its headers for poll-after hints).
    fn read_poll(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<PollReport, VideoError>;

    /// How to fetch a completed task's file.
    fn content(
        &self,
        target: &Target<'_>,
        task: &TaskRef<'_>,
        variant: Variant,
    ) -> Result<Content, VideoError>;

    /// The request that cancels or deletes a task upstream, where the provider offers one.
    fn cancel(&self, target: &Target<'_>, task: &TaskRef<'_>) -> Option<UpstreamRequest>;

    /// An error answer in neutral form (as [`super::Provider::fault`]); for the providers that
    /// also serve text, their text reading.
    fn fault(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> UpstreamFault;

    /// Whether submit takes a `callback_url` (Kling, Luma).
    fn takes_callback(&self) -> bool {
        false
    }

    /// Reads a callback's body: the upstream id it is about and its report. Only called for
    /// providers that take callbacks.
    fn read_callback(
        &self,
        body: &[u8],
        redactor: &Redactor,
    ) -> Result<(String, PollReport), VideoError> {
        let _ = (body, redactor);
        Err(VideoError::Unsupported(
            "this provider sends no callbacks".to_owned(),
        ))
    }

    /// The least time between two polls of one task (the provider's documented pace).
    fn min_poll_interval(&self) -> Duration {
        Duration::from_secs(5)
    }

    /// The native pass-through routes' shapes, for the providers that have them (Kling,
    /// Runway).
    fn native(&self) -> Option<&dyn NativeShapes> {
        None
    }
}

/// How a provider's own API looks to clients written against it: the relay takes their
/// requests, swaps the upstream's task id for its own, and answers their polls from the store.
pub trait NativeShapes: Send + Sync {
    /// The neutral spec of a native create request (`action`: the path after the native
    /// prefix, e.g. `videos/text2video`); the body itself is what is sent upstream (its model
    /// mapped), so the spec is for billing and the task's record.
    fn spec_of(&self, action: &str, body: &Value) -> Result<VideoSpec, VideoError>;

    /// The native answer to a create, naming the relay's `public_id`.
    fn created(&self, public_id: &str, task: &NativeTask<'_>) -> Value;

    /// The native answer to a poll of the task.
    fn polled(&self, public_id: &str, task: &NativeTask<'_>) -> Value;
}

/// What a native shape shows of a stored task.
#[derive(Clone, Copy, Debug)]
pub struct NativeTask<'a> {
    pub state: TaskState,
    pub progress: u8,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// The relay's content URL for the video (never the upstream's).
    pub content_url: Option<&'a str>,
    pub failure: Option<&'a TaskFailure>,
    pub model: &'a str,
    pub seconds: Option<u32>,
}

/// The one registration point: the video API of a kind, `None` for kinds that make no video.
pub fn video_api_for(kind: ProviderKind) -> Option<&'static dyn VideoApi> {
    match kind {
        ProviderKind::Openai | ProviderKind::OpenaiCompatible => Some(&super::openai::video::SORA),
        ProviderKind::Kling => Some(&super::kling::KLING),
        ProviderKind::Runway => Some(&super::runway::RUNWAY),
        ProviderKind::Luma => Some(&super::luma::LUMA),
        ProviderKind::Viggle => Some(&super::viggle::VIGGLE),
        ProviderKind::Gemini => Some(&super::gemini::video::GEMINI_VEO),
        ProviderKind::Vertex => Some(&super::vertex::video::VERTEX_VEO),
        ProviderKind::Zhipu => Some(&super::zhipu::ZHIPU),
        ProviderKind::Dashscope => Some(&super::dashscope::DASHSCOPE),
        ProviderKind::Anthropic | ProviderKind::Xai => None,
    }
}
