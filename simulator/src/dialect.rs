//! The OpenAI-compatible servers the simulator imitates besides OpenAI itself: their names and
//! where they are served (`/compat/{name}/v1/...`, chat, completions, embeddings, models).
//! Owns the identity of a dialect; must never hold how it writes (`openai/dialects.rs`).

use std::net::SocketAddr;

use crate::openai::dialects;
use crate::openai::style::Style;

/// An OpenAI-compatible server's way of answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    /// vLLM's OpenAI server.
    Vllm,
    /// The LiteLLM proxy.
    Litellm,
    /// Ollama's `/v1` OpenAI-compatible endpoint.
    Ollama,
    /// llama.cpp's `llama-server`.
    LlamaCpp,
    /// A small FastAPI clone writing `json.dumps` chunks.
    FastApi,
    /// A small server that answers every request, `stream: true` too, with one JSON body.
    JsonOnly,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 6] = [
        Dialect::Vllm,
        Dialect::Litellm,
        Dialect::Ollama,
        Dialect::LlamaCpp,
        Dialect::FastApi,
        Dialect::JsonOnly,
    ];

    /// Lower-case name used in paths.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Vllm => "vllm",
            Dialect::Litellm => "litellm",
            Dialect::Ollama => "ollama",
            Dialect::LlamaCpp => "llamacpp",
            Dialect::FastApi => "fastapi",
            Dialect::JsonOnly => "jsononly",
        }
    }

    /// Parses the lower-case name.
    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.as_str() == name)
    }

    /// The path prefix under which the dialect is served, e.g. `/compat/vllm`.
    pub fn path_prefix(self) -> String {
        format!("/compat/{}", self.as_str())
    }

    /// The base URL an OpenAI SDK (or a relay channel) takes: `http://ADDR/compat/{name}/v1`.
    pub fn base_url(self, addr: SocketAddr) -> String {
        format!("http://{addr}{}/v1", self.path_prefix())
    }

    /// How the dialect writes its answers.
    pub(crate) fn style(self) -> &'static Style {
        match self {
            Dialect::Vllm => &dialects::VLLM,
            Dialect::Litellm => &dialects::LITELLM,
            Dialect::Ollama => &dialects::OLLAMA,
            Dialect::LlamaCpp => &dialects::LLAMA_CPP,
            Dialect::FastApi => &dialects::FASTAPI,
            Dialect::JsonOnly => &dialects::JSON_ONLY,
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
