//! The embedded default: with no config file the relay serves demo models from the simulator,
//! run in-process, so a newcomer gets real answers without any provider key.
//!
//! Owns: the demo configuration and its token.
//! Must never: be used when a config file is given.

use crate::config::Config;
use sluice_sim::{Provider, SimHandle};

/// The client token the demo accepts.
pub const DEMO_TOKEN: &str = "sk-sluice-demo";

/// A config whose channels point at the running simulator.
pub fn config(sim: &SimHandle, listen: std::net::SocketAddr) -> Config {
    let text = format!(
        r#"
        listen = "{listen}"

        [[channels]]
        name = "demo-openai"
        provider = "openai"
        base_url = "{openai}"
        keys = ["sk-demo-openai"]
        models = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "gpt-3.5-turbo-instruct"]

        [[channels]]
        name = "demo-anthropic"
        provider = "anthropic"
        base_url = "{anthropic}"
        keys = ["sk-ant-demo"]
        models = ["claude-sonnet-4-20250514", "claude-3-5-haiku-latest"]

        [[channels]]
        name = "demo-xai"
        provider = "xai"
        base_url = "{xai}"
        keys = ["xai-demo"]
        models = ["grok-3", "grok-3-mini"]

        [[tokens]]
        name = "demo"
        key = "{DEMO_TOKEN}"
        "#,
        openai = sim.base_url(Provider::OpenAi),
        anthropic = sim.base_url(Provider::Anthropic),
        xai = sim.base_url(Provider::Xai),
    );
    // The text above is fixed apart from URLs the simulator made: a parse failure is a bug here.
    match Config::parse(&text) {
        Ok(c) => c,
        Err(e) => unreachable!("demo config does not parse: {e}"),
    }
}
