//! The simulated providers: their names, URL prefixes, key/model rules and how their request
//! paths are labelled in stats and scenario rules.
//! Owns the identity of a provider; must never hold per-request state.

/// An upstream provider the simulator imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    /// OpenAI (`/openai/v1/...`).
    OpenAi,
    /// Anthropic (`/anthropic/v1/...`).
    Anthropic,
    /// xAI Grok, OpenAI-compatible with its own errors (`/xai/v1/...`).
    Xai,
    /// Google's Gemini API (`/gemini/v1beta/...`, `/gemini/v1/...`, `/gemini/v1alpha/...`).
    Gemini,
    /// Google Vertex AI, Gemini models (`/vertex/v1/projects/{p}/locations/{l}/...`).
    Vertex,
    /// Google's OAuth 2.0 token endpoint, which mints Vertex AI access tokens
    /// (`/google-oauth/token`).
    GoogleOAuth,
    /// Kling video (`/kling/v1/videos/...`), JWT auth.
    Kling,
    /// Runway video (`/runway/v1/...`), `X-Runway-Version` required.
    Runway,
    /// Luma Dream Machine (`/luma/dream-machine/v1/...`).
    Luma,
    /// Zhipu CogVideoX (`/zhipu/api/paas/v4/...`).
    Zhipu,
    /// Alibaba DashScope Wan (`/dashscope/api/v1/...`), async header required.
    Dashscope,
    /// Viggle v2 (`/viggle/api/render...`).
    Viggle,
}

impl Provider {
    /// Every simulated provider.
    pub const ALL: [Provider; 12] = [
        Provider::OpenAi,
        Provider::Anthropic,
        Provider::Xai,
        Provider::Gemini,
        Provider::Vertex,
        Provider::GoogleOAuth,
        Provider::Kling,
        Provider::Runway,
        Provider::Luma,
        Provider::Zhipu,
        Provider::Dashscope,
        Provider::Viggle,
    ];

    /// The providers that serve only video tasks.
    pub const VIDEO_ONLY: [Provider; 6] = [
        Provider::Kling,
        Provider::Runway,
        Provider::Luma,
        Provider::Zhipu,
        Provider::Dashscope,
        Provider::Viggle,
    ];

    /// Lower-case name used in paths, stats keys and scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Xai => "xai",
            Provider::Gemini => "gemini",
            Provider::Vertex => "vertex",
            Provider::GoogleOAuth => "google-oauth",
            Provider::Kling => "kling",
            Provider::Runway => "runway",
            Provider::Luma => "luma",
            Provider::Zhipu => "zhipu",
            Provider::Dashscope => "dashscope",
            Provider::Viggle => "viggle",
        }
    }

    /// Parses the lower-case name (`openai`, `anthropic`, `xai`, `gemini`, `vertex`,
    /// `google-oauth`, `kling`, `runway`, `luma`, `zhipu`, `dashscope`, `viggle`).
    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The path prefix under which the provider is served, e.g. `/openai`.
    pub fn path_prefix(self) -> &'static str {
        match self {
            Provider::OpenAi => "/openai",
            Provider::Anthropic => "/anthropic",
            Provider::Xai => "/xai",
            Provider::Gemini => "/gemini",
            Provider::Vertex => "/vertex",
            Provider::GoogleOAuth => "/google-oauth",
            Provider::Kling => "/kling",
            Provider::Runway => "/runway",
            Provider::Luma => "/luma",
            Provider::Zhipu => "/zhipu",
            Provider::Dashscope => "/dashscope",
            Provider::Viggle => "/viggle",
        }
    }

    /// Whether `key` looks like one of this provider's API keys (its prefix). For Vertex AI
    /// the key is an access token, which must also be one the token endpoint issued; the
    /// token endpoint itself takes no key. Kling's bearer is a JWT (checked in
    /// `video::kling_auth`); here its access key `ak-…`. Zhipu's key is `id.secret` (holds a
    /// `.`), Viggle's any 8 characters or more.
    pub fn accepts_key(self, key: &str) -> bool {
        let prefix = match self {
            Provider::OpenAi | Provider::Dashscope => "sk-",
            Provider::Anthropic => "sk-ant-",
            Provider::Xai => "xai-",
            Provider::Gemini => "AIza",
            Provider::Vertex => "ya29.",
            Provider::GoogleOAuth => return false,
            Provider::Kling => "ak-",
            Provider::Runway => "key_",
            Provider::Luma => "luma-",
            Provider::Zhipu => {
                return key
                    .split_once('.')
                    .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
            }
            Provider::Viggle => return key.trim().len() >= 8,
        };
        key.len() > prefix.len() && key.starts_with(prefix)
    }

    /// Whether `model` names a model this provider serves (by prefix).
    pub fn knows_model(self, model: &str) -> bool {
        let prefixes: &[&str] = match self {
            Provider::OpenAi => &[
                "gpt-",
                "o1",
                "o3",
                "o4",
                "text-embedding-",
                "chatgpt-",
                "davinci",
                "babbage",
                "dall-e-",
                "tts-",
                "whisper-",
                "omni-moderation",
                "text-moderation",
                "sora-2",
            ],
            Provider::Anthropic => &["claude-"],
            Provider::Xai => &["grok-"],
            Provider::Gemini => &["gemini-", "gemma-", "text-embedding-", "embedding-"],
            Provider::Vertex => &[
                "gemini-",
                "text-embedding-",
                "text-multilingual-embedding-",
                "imagen-",
            ],
            Provider::GoogleOAuth => &[],
            Provider::Kling => &["kling-"],
            Provider::Runway => &["gen4", "gen3a", "veo3"],
            Provider::Luma => &["ray-"],
            Provider::Zhipu => &["cogvideox"],
            Provider::Dashscope => &["wan"],
            Provider::Viggle => &["V4_Preview", "V3_Preview", "viggle"],
        };
        prefixes.iter().any(|p| model.starts_with(p))
    }

    /// How a request path (after the prefix) is named in stats and matched by scenario rules,
    /// and the model it names, if any. Most providers use the route pattern (`matched`); the
    /// Google ones name the model in the path, which becomes `{model}` (and Vertex's project
    /// and location `{project}`, `{location}`).
    pub(crate) fn endpoint(self, matched: &str, path: &str) -> (String, Option<String>) {
        match self {
            Provider::OpenAi
            | Provider::Anthropic
            | Provider::Xai
            | Provider::GoogleOAuth
            | Provider::Kling
            | Provider::Runway
            | Provider::Luma
            | Provider::Zhipu
            | Provider::Dashscope
            | Provider::Viggle => (matched.to_owned(), None),
            Provider::Gemini | Provider::Vertex => crate::gemini::path::label(path),
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_by_prefix() {
        assert!(Provider::OpenAi.accepts_key("sk-test"));
        assert!(!Provider::OpenAi.accepts_key("sk-"));
        assert!(Provider::Anthropic.accepts_key("sk-ant-x"));
        assert!(!Provider::Anthropic.accepts_key("sk-x"));
        assert!(Provider::Xai.accepts_key("xai-1"));
        assert!(!Provider::Xai.accepts_key("sk-1"));
        assert!(Provider::Gemini.accepts_key("AIzaSyTest"));
        assert!(!Provider::Gemini.accepts_key("AIza"));
        assert!(!Provider::GoogleOAuth.accepts_key("anything"));
    }

    #[test]
    fn models_by_prefix() {
        assert!(Provider::OpenAi.knows_model("gpt-4o-mini"));
        assert!(Provider::OpenAi.knows_model("o3-mini"));
        assert!(!Provider::OpenAi.knows_model("claude-3"));
        assert!(Provider::Anthropic.knows_model("claude-sonnet-4-20250514"));
        assert!(Provider::Xai.knows_model("grok-3-mini"));
        assert!(!Provider::Xai.knows_model("gpt-4o"));
        assert_eq!(Provider::from_name("xai"), Some(Provider::Xai));
        assert!(Provider::Gemini.knows_model("gemini-2.5-flash"));
        assert!(Provider::Vertex.knows_model("text-embedding-005"));
        assert!(!Provider::Vertex.knows_model("gpt-4o"));
        assert_eq!(
            Provider::from_name("google-oauth"),
            Some(Provider::GoogleOAuth)
        );
    }
}
