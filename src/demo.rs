//! The embedded default: with no config file the relay serves demo models from the simulator,
//! run in-process, so a newcomer gets real answers without any provider key.
//!
//! Only with the `demo` feature (on by default): a relay built without it links no simulator.
//!
//! Owns: the demo configuration, its token, the simulator it runs, its temporary SQLite store
//! (a directory under the system's temp dir, removed at stop) and the banner it prints.
//! Must never: be used when a config file is given.

use crate::config::{Config, ProviderKind, Secret, StoreConfig};
use crate::state::StartError;
use sluice_sim::{Provider, SimConfig, SimHandle, TestServiceAccount};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The client token the demo accepts.
pub const DEMO_TOKEN: &str = "sk-sluice-demo";

/// The models the demo channels serve.
const MODELS: &str = "gpt-4o-mini, gpt-4o, text-embedding-3-small, gpt-3.5-turbo-instruct, \
                      gpt-image-1, dall-e-3, dall-e-2, tts-1, gpt-4o-mini-tts, whisper-1, \
                      gpt-4o-transcribe, omni-moderation-latest, \
                      claude-sonnet-4-20250514, claude-3-5-haiku-latest, grok-3, grok-3-mini, \
                      grok-2-image, \
                      gemini-2.5-flash, gemini-2.5-pro, gemini-2.0-flash, gemini-embedding-001, \
                      text-embedding-004, gemini-2.5-flash-image, gemini-2.5-flash-preview-tts, \
                      gemini-2.0-flash-vertex, imagen-4.0-generate-001; \
                      video (/v1/videos): sora-2, sora-2-pro, kling-v1, gen4_turbo, ray-2, \
                      cogvideox-3, wan2.2-t2v-plus, viggle-v4, veo-3.0-generate-001, \
                      veo-3.0-generate-001-vertex";

/// The simulator of demo mode, run in-process for as long as the relay serves.
pub struct Demo {
    sim: SimHandle,
    /// The demo's temporary store (SQLite and spool), removed at stop.
    data_dir: PathBuf,
}

impl Demo {
    /// Starts the simulator and returns the config whose channels point at it.
    pub async fn start(listen: SocketAddr) -> Result<(Self, Config), StartError> {
        let mut sim_config = SimConfig::default();
        // The simulated token endpoint checks the demo service account's signatures.
        if let Ok(key) = TestServiceAccount::load().key() {
            sim_config.google_oauth.service_accounts.push(key);
        }
        let sim = sluice_sim::start(sim_config)
            .await
            .map_err(StartError::Simulator)?;
        let mut config = config(&sim, listen);
        let data_dir = std::env::temp_dir().join(format!(
            "sluice-demo-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        config.store = Some(StoreConfig::in_dir(&data_dir));
        Ok((Self { sim, data_dir }, config))
    }

    /// What the demo prints at start: where to send requests, with which token and models.
    pub fn banner(&self, local: SocketAddr, admin: Option<SocketAddr>) -> String {
        let mut b = format!(
            "sluice demo: serving simulated models on http://{local}/v1\n  token:  {DEMO_TOKEN}\n  \
             models: {MODELS}\n"
        );
        let _ = writeln!(
            b,
            "  try:    curl http://{local}/v1/chat/completions -H 'Authorization: Bearer \
             {DEMO_TOKEN}' -H 'Content-Type: application/json' -d '{{\"model\":\"gpt-4o-mini\",\
             \"messages\":[{{\"role\":\"user\",\"content\":\"Hello\"}}]}}'"
        );
        let _ = writeln!(
            b,
            "  gemini: http://{local}/v1beta/models/gemini-2.5-flash:generateContent with \
             'x-goog-api-key: {DEMO_TOKEN}' (Google's SDKs: base_url http://{local})"
        );
        if let Some(a) = admin {
            let _ = writeln!(
                b,
                "  admin:  http://{a}/api/channels, http://{a}/metrics, \
                 http://{a}/api/monitor/health (this machine only)\n  watch:  sluice monitor http://{a}"
            );
        }
        b
    }

    /// Stops the simulator (after the relay has stopped).
    pub async fn stop(self) {
        self.sim.shutdown().await;
        if let Err(e) = std::fs::remove_dir_all(&self.data_dir) {
            tracing::debug!(dir = %self.data_dir.display(), error = %e, "demo store not removed");
        }
    }
}

/// A config whose channels point at the running simulator.
pub fn config(sim: &SimHandle, listen: SocketAddr) -> Config {
    // Vertex AI's key: the simulator's test-only service account, its token_uri the simulator's.
    let account = TestServiceAccount::load();
    let text = format!(
        r#"
        listen = "{listen}"

        [[channels]]
        name = "demo-openai"
        provider = "openai"
        base_url = "{openai}"
        keys = ["sk-demo-openai"]
        models = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "gpt-3.5-turbo-instruct",
            "gpt-image-1", "dall-e-3", "dall-e-2", "tts-1", "gpt-4o-mini-tts", "whisper-1",
            "gpt-4o-transcribe", "omni-moderation-latest", "sora-2", "sora-2-pro"]

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
        models = ["grok-3", "grok-3-mini", "grok-2-image"]

        [[channels]]
        name = "demo-gemini"
        provider = "gemini"
        base_url = "{gemini}/v1beta"
        keys = ["AIzaDemoKey"]
        models = ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash", "gemini-embedding-001",
            "text-embedding-004", "gemini-2.5-flash-image", "gemini-2.5-flash-preview-tts",
            "veo-3.0-generate-001"]

        [[channels]]
        name = "demo-vertex"
        provider = "vertex"
        base_url = "{vertex}/v1"
        keys = ["the test-only service account, below"]
        models = ["gemini-2.0-flash-vertex", "imagen-4.0-generate-001",
            "veo-3.0-generate-001-vertex"]
        model_mapping = {{ "gemini-2.0-flash-vertex" = "gemini-2.0-flash",
            "veo-3.0-generate-001-vertex" = "veo-3.0-generate-001" }}
        project = "{project}"
        location = "us-central1"

        [[channels]]
        name = "demo-kling"
        provider = "kling"
        base_url = "{root}/kling"
        keys = ["ak-demo:sk-demo"]
        models = ["kling-v1", "kling-v2-master"]

        [[channels]]
        name = "demo-runway"
        provider = "runway"
        base_url = "{root}/runway"
        keys = ["key_demo"]
        models = ["gen4_turbo"]

        [[channels]]
        name = "demo-luma"
        provider = "luma"
        base_url = "{root}/luma"
        keys = ["luma-demo"]
        models = ["ray-2"]

        [[channels]]
        name = "demo-zhipu"
        provider = "zhipu"
        base_url = "{root}/zhipu"
        keys = ["demo-id.demo-secret"]
        models = ["cogvideox-3"]

        [[channels]]
        name = "demo-dashscope"
        provider = "dashscope"
        base_url = "{root}/dashscope"
        keys = ["sk-demo-dashscope"]
        models = ["wan2.2-t2v-plus"]

        [[channels]]
        name = "demo-viggle"
        provider = "viggle"
        base_url = "{root}/viggle"
        keys = ["vgl-demo-key"]
        models = ["viggle-v4"]
        model_mapping = {{ "viggle-v4" = "V4_Preview" }}

        [video]
        # The simulator's tasks take about a second: poll them often (a provider's own interval
        # overrides its documented pace).
        poll_interval = "500ms"
        poll_intervals = {{ openai = "500ms", kling = "500ms", runway = "500ms", luma = "500ms",
            zhipu = "500ms", dashscope = "500ms", viggle = "500ms", gemini = "500ms",
            vertex = "500ms" }}

        [[tokens]]
        name = "demo"
        key = "{DEMO_TOKEN}"
        "#,
        root = format!("http://{}", sim.addr()),
        openai = sim.base_url(Provider::OpenAi),
        anthropic = sim.base_url(Provider::Anthropic),
        xai = sim.base_url(Provider::Xai),
        gemini = sim.base_url(Provider::Gemini),
        vertex = sim.base_url(Provider::Vertex),
        project = account.project_id(),
    );
    // The text above is fixed apart from URLs the simulator made: a parse failure is a bug here.
    let mut config = match Config::parse(&text) {
        Ok(c) => c,
        Err(e) => unreachable!("demo config does not parse: {e}"),
    };
    let key = Secret::new(account.key_file(&sim.google_token_url()));
    for ch in &mut config.channels {
        if ch.provider == ProviderKind::Vertex {
            ch.keys = vec![key.clone()];
        }
    }
    config
}
