//! Simulated video generation: one task engine shared by every provider's async video API
//! (Sora under `/openai`, Veo under `/gemini` and `/vertex`, and the video-only providers
//! Kling, Runway, Luma, Zhipu, DashScope, Viggle under their own prefixes), the result files
//! generated from a task's record, and the one callback sender.
//! Owns the engine and the video-only providers' routers; must never apply request-level
//! faults (the layer does) or store result bytes.

pub(crate) mod book;
pub(crate) mod callback;
pub(crate) mod common;
pub(crate) mod content;
pub(crate) mod dashscope;
pub(crate) mod envelope;
pub(crate) mod faults;
pub(crate) mod files;
pub(crate) mod kling;
mod kling_auth;
pub(crate) mod luma;
pub(crate) mod runway;
pub(crate) mod sora;
pub(crate) mod task;
pub(crate) mod viggle;
pub(crate) mod zhipu;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::HeaderMap;
use tokio::sync::mpsc;

use self::book::TaskBook;
use self::callback::Scheduled;
use self::task::{Phase, Task};
use crate::state::Ctx;
use crate::stats::{StatsRecorder, VideoEvent};
use crate::{Provider, VideoConfig};

/// The video task engine of one simulator.
pub(crate) struct Engine {
    pub(crate) book: TaskBook,
    /// `http://ADDR`, the root of the result URLs.
    pub(crate) base: String,
    callbacks: mpsc::Sender<Scheduled>,
    receiver: Mutex<Option<mpsc::Receiver<Scheduled>>>,
}

impl Engine {
    pub(crate) fn new(seed: u64, config: VideoConfig, addr: SocketAddr) -> Self {
        let (tx, rx) = mpsc::channel(callback::QUEUE);
        Engine {
            book: TaskBook::new(seed, config),
            base: format!("http://{addr}"),
            callbacks: tx,
            receiver: Mutex::new(Some(rx)),
        }
    }

    /// The callback queue's receiving end, once (for the sender task).
    pub(crate) fn take_receiver(&self) -> Option<mpsc::Receiver<Scheduled>> {
        self.receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Schedules the callbacks of a task (unless `callback-never`); a full queue drops them
    /// (counted as failed).
    pub(crate) fn schedule(&self, provider: Provider, id: Arc<str>, stats: &StatsRecorder) {
        let never = self
            .book
            .get(provider, &id)
            .is_none_or(|t| t.faults.callback_never);
        if never {
            return;
        }
        if self.callbacks.try_send(Scheduled { provider, id }).is_err() {
            stats.video(provider, VideoEvent::CallbackFailed);
        }
    }
}

/// The routes of a video-only provider, relative to its prefix.
pub(crate) fn router(ctx: Ctx) -> Router {
    let routes = match ctx.provider {
        Provider::Kling => kling::router(),
        Provider::Runway => runway::router(),
        Provider::Luma => luma::router(),
        Provider::Zhipu => zhipu::router(),
        Provider::Dashscope => dashscope::router(),
        Provider::Viggle => viggle::router(),
        Provider::OpenAi
        | Provider::Anthropic
        | Provider::Xai
        | Provider::Gemini
        | Provider::Vertex
        | Provider::GoogleOAuth => Router::new(),
    };
    routes
        .route("/sim-files/{file}", get(sim_file))
        .with_state(ctx)
}

/// The result of a completed task, or why there is none.
pub(crate) enum Outcome {
    Ready(Box<Task>),
    NotReady(Phase),
    Expired,
    Missing,
}

/// Whether task `id` has a result to download now.
pub(crate) fn result_of(ctx: &Ctx, id: &str) -> Outcome {
    let Some(task) = ctx.shared.video.book.get(ctx.provider, id) else {
        return Outcome::Missing;
    };
    match task.phase(tokio::time::Instant::now()) {
        Phase::Succeeded if task.faults.expire => Outcome::Expired,
        Phase::Succeeded => Outcome::Ready(Box::new(task)),
        other => Outcome::NotReady(other),
    }
}

/// The task's video file.
pub(crate) fn video_bytes(task: &Task) -> Bytes {
    files::mp4(task.seq ^ 0x5eed, task.seconds).into()
}

/// `GET {prefix}/sim-files/video-{id}.mp4` (and `cover-{id}.jpg`): a CDN-style link, no
/// auth; an expired one is 403, a missing or unfinished one 404 (XML, as object stores).
async fn sim_file(
    State(ctx): State<Ctx>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (id, cover) = if let Some(id) = file
        .strip_prefix("video-")
        .and_then(|f| f.strip_suffix(".mp4"))
    {
        (id, false)
    } else if let Some(id) = file
        .strip_prefix("cover-")
        .and_then(|f| f.strip_suffix(".jpg"))
    {
        (id, true)
    } else {
        return content::no_such_key();
    };
    match result_of(&ctx, id) {
        Outcome::Ready(task) => {
            common::downloaded(&ctx);
            if cover {
                content::serve(
                    files::jpeg(4, 3).into(),
                    "image/jpeg",
                    &headers,
                    task.faults.content_cut,
                )
            } else {
                content::serve(
                    video_bytes(&task),
                    "video/mp4",
                    &headers,
                    task.faults.content_cut,
                )
            }
        }
        Outcome::Expired => content::expired_link(),
        Outcome::NotReady(_) | Outcome::Missing => content::no_such_key(),
    }
}
