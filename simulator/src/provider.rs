//! The simulated providers: their names, URL prefixes and key/model rules.
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
}

impl Provider {
    /// Every simulated provider.
    pub const ALL: [Provider; 3] = [Provider::OpenAi, Provider::Anthropic, Provider::Xai];

    /// Lower-case name used in paths, stats keys and scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Xai => "xai",
        }
    }

    /// Parses the lower-case name (`openai`, `anthropic`, `xai`).
    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The path prefix under which the provider is served, e.g. `/openai`.
    pub fn path_prefix(self) -> &'static str {
        match self {
            Provider::OpenAi => "/openai",
            Provider::Anthropic => "/anthropic",
            Provider::Xai => "/xai",
        }
    }

    /// Whether `key` looks like one of this provider's API keys (its prefix).
    pub fn accepts_key(self, key: &str) -> bool {
        let prefix = match self {
            Provider::OpenAi => "sk-",
            Provider::Anthropic => "sk-ant-",
            Provider::Xai => "xai-",
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
            ],
            Provider::Anthropic => &["claude-"],
            Provider::Xai => &["grok-"],
        };
        prefixes.iter().any(|p| model.starts_with(p))
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
    }
}
