//! sluice: an LLM API relay that leaks nothing.
//!
//! The request path, top-down: `server` (router, layers, handlers) -> `auth` -> `relay` (the
//! spine) -> `routing` (channel choice) -> `providers` (adaptors) -> `upstream` (HTTP client,
//! deadlines) -> `stream` (SSE, conversions) back to the client. `error` is the one place
//! errors become client-facing bodies.

pub mod auth;
#[cfg(feature = "canary")]
pub mod canary;
pub mod client_text;
pub mod config;
pub mod convert;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod limits;
pub mod monitor;
pub mod overload;
pub mod providers;
pub mod relay;
pub mod routing;
pub mod server;
pub mod state;
pub mod store;
pub mod stream;
pub mod supervisor;
pub mod upstream;

#[cfg(all(feature = "canary", not(debug_assertions)))]
compile_error!("the `canary` feature plants leaks on purpose: never in a release build");

pub use config::Config;
pub use server::{app, serve, Server};
pub use state::{AppState, StartError};
