//! sluice: an LLM API relay that leaks nothing.
//!
//! The request path, top-down: `server` (router, layers, handlers) -> `auth` -> `relay` (the
//! spine) -> `routing` (channel choice) -> `bridges` (client format <-> upstream format) ->
//! `providers` (everything about one upstream) -> `upstream` (HTTP client, deadlines) ->
//! `stream` (SSE, the response body) back to the client. `wire` is the neutral vocabulary they
//! share; `error` is the one place errors become client-facing bodies. Video requests leave the
//! spine at `server`: `tasks` owns them (the store's tasks, one poller, billing, callbacks).

#![warn(unreachable_pub)]

pub(crate) mod auth;
pub mod bridges;
#[cfg(feature = "canary")]
pub(crate) mod canary;
pub(crate) mod client_text;
pub mod cluster;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod limits;
pub(crate) mod media;
pub mod monitor;
pub(crate) mod overload;
pub mod providers;
pub(crate) mod relay;
pub mod routing;
pub mod server;
pub(crate) mod state;
pub mod store;
pub mod stream;
pub mod supervisor;
pub mod tasks;
pub mod upstream;
pub mod wire;

#[cfg(all(feature = "canary", not(debug_assertions)))]
compile_error!("the `canary` feature plants leaks on purpose: never in a release build");

pub use config::Config;
pub use server::{app, serve, Server};
pub use state::{AppState, Metered, StartError};
