//! `sluice-sim`: an in-process or standalone server that imitates upstream LLM providers
//! (OpenAI, Anthropic, xAI) closely enough for their official SDKs, and injects faults.
//!
//! All providers share one port, each under its own prefix:
//! OpenAI at `/openai/v1/...`, Anthropic at `/anthropic/v1/...`, xAI at `/xai/v1/...`;
//! [`SimHandle::base_url`] gives the base URL each SDK expects. `GET /__sim/stats` shows
//! [`Stats`] as JSON and `POST /__sim/stats/reset` zeroes them.
//!
//! # Keys
//! A key is valid when it carries the provider's prefix (and something after it):
//! OpenAI `sk-` and xAI `xai-` in `Authorization: Bearer <key>`; Anthropic `sk-ant-` in
//! `x-api-key`, which also requires an `anthropic-version` header. A missing or wrong key
//! gets the provider's own rejection: OpenAI 401 `invalid_api_key`, Anthropic 401
//! `authentication_error` (a missing `anthropic-version` is 400 `invalid_request_error`),
//! xAI 400 with a string `error`.
//!
//! # Models
//! Models are accepted by prefix: OpenAI `gpt-`, `o1`, `o3`, `o4`, `text-embedding-`,
//! `chatgpt-`, `davinci`, `babbage`; Anthropic `claude-`; xAI `grok-`. Others get 404 in the
//! provider's shape.
//!
//! # Content
//! Answers are deterministic: words from a fixed vocabulary chosen by hashing the request's
//! message text. One word is one completion token and one streamed delta. The answer has
//! `max_tokens`/`max_completion_tokens` words (capped at 4096; finish `length`/`max_tokens`)
//! or 12 words without a limit (finish `stop`/`end_turn`); a generated word equal to a stop
//! string ends it early (`stop`/`stop_sequence`). Prompt tokens are the whitespace words of
//! all message text plus 3 per message. With tools offered (and not refused) and the user
//! speaking last, the answer is one call to the chosen (or first) tool with arguments built
//! from its schema. xAI `grok-3-mini*` models add `reasoning_content`, counted in
//! `completion_tokens_details.reasoning_tokens` and (as xAI does) in `total_tokens` but not
//! in `completion_tokens`.

mod anthropic;
mod app;
mod config;
mod errors;
mod faults;
mod gen;
mod handle;
mod headers;
mod http;
mod openai;
mod provider;
mod server;
mod state;
mod stats;

pub use config::SimConfig;
pub use faults::mix::Mix;
pub use faults::scenario::{Scenario, ScenarioError};
pub use faults::select::FAULT_HEADER;
pub use faults::spec::{Fault, FaultError, FaultSet};
pub use handle::SimHandle;
pub use provider::Provider;
pub use stats::Stats;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::state::Shared;

/// Binds `config.listen` and serves in the background until the handle is shut down or dropped.
pub async fn start(config: SimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared::new(config.seed, config.scenario, config.mix));
    let app = app::router(shared.clone());
    let cancel = CancellationToken::new();
    let mut server = JoinSet::new();
    server.spawn(server::run(
        listener,
        app,
        shared.stats.clone(),
        cancel.clone(),
    ));
    Ok(SimHandle {
        addr,
        shared,
        _stop_on_drop: cancel.clone().drop_guard(),
        cancel,
        server,
    })
}
