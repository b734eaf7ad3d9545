//! Secrets out of upstream text: every configured secret (channel keys, client tokens, the admin
//! token) and anything shaped like a provider key is replaced before an upstream's words are
//! kept anywhere.
//!
//! Owns: the list of secrets to look for, the key-shaped patterns, and the replacement.
//! Must never: let through a configured secret of [`MIN_SECRET_LEN`] bytes or more, or a
//! key-shaped token; change a text that holds neither.
//!
//! Key-shaped, whoever's key it is (the prefix is kept as a hint, the rest becomes
//! `[redacted]`):
//! - `sk-` then 20 or more of `A-Z a-z 0-9 _ -`: OpenAI (`sk-`, `sk-proj-`, `sk-svcacct-`) and
//!   Anthropic (`sk-ant-`) keys;
//! - `xai-` then 20 or more of those: xAI keys;
//! - `AIza` then 35 or more of those: Google API keys;
//! - `Bearer ` (any case) then 16 or more of `A-Z a-z 0-9 . _ ~ + / -` (and `=` padding): bearer
//!   tokens, JWTs and OAuth access tokens included;
//! - `x-api-key`, `api-key`, `api_key` or `apikey` (any case), `:` or `=`, then a value of 16 or
//!   more characters up to a space, quote, `,`, `;`, `&` or `}`: keys quoted with their header
//!   or parameter name.
//!
//! The prefixes must start a word (`task-...` is no `sk-` key), and the lengths keep ordinary
//! words (`sk-learn`, `xai-docs`) intact.

use crate::config::{Config, Secret};
use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Captures, Regex};
use std::borrow::Cow;
use std::sync::LazyLock;

/// What a secret becomes.
pub const REDACTED: &str = "[redacted]";

/// Configured values shorter than this are not looked for: they would match ordinary words,
/// and no real key or token is that short.
pub const MIN_SECRET_LEN: usize = 8;

/// The key shapes; each alternative captures the part that is kept as a hint.
static SHAPES: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = concat!(
        r"\b(sk-ant-|sk-|xai-)[A-Za-z0-9_\-]{20,}",
        r"|\b(AIza)[A-Za-z0-9_\-]{35,}",
        r"|(?i:\b(bearer\s+))[A-Za-z0-9._~+/\-]{16,}=*",
        r#"|(?i:\b((?:x-api-key|api[-_]?key)["']?\s*[:=]\s*["']?))[^\s"',;&}]{16,}"#,
    );
    match Regex::new(pattern) {
        Ok(r) => r,
        Err(e) => unreachable!("the key-shape pattern does not compile: {e}"),
    }
});

/// Replaces secrets in text. Cheap to clone (the matcher is shared). The default knows no
/// configured secret and redacts key-shaped tokens only.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Every configured secret, longest match first.
    secrets: Option<AhoCorasick>,
    count: usize,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.count)
    }
}

impl Redactor {
    /// A redactor for these secrets (and every key shape).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Self {
        let mut values: Vec<&str> = secrets
            .into_iter()
            .map(Secret::expose)
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        values.sort_unstable();
        values.dedup();
        let secrets = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&values)
            .ok()
            .filter(|_| !values.is_empty());
        Self {
            count: if secrets.is_some() { values.len() } else { 0 },
            secrets,
        }
    }

    /// A redactor for every secret of a config: channel keys, client tokens, the admin token.
    pub fn for_config(config: &Config) -> Self {
        let keys = config.channels.iter().flat_map(|c| c.keys.iter());
        let tokens = config.tokens.iter().map(|t| &t.key);
        Self::new(keys.chain(tokens).chain(config.admin_token.as_ref()))
    }

    /// How many configured secrets it looks for.
    pub fn secrets(&self) -> usize {
        self.count
    }

    /// The text with every configured secret and key-shaped token replaced.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let text = match &self.secrets {
            Some(ac) if ac.is_match(text) => Cow::Owned(replace_secrets(ac, text)),
            _ => Cow::Borrowed(text),
        };
        if !SHAPES.is_match(&text) {
            return text;
        }
        let shaped = SHAPES.replace_all(&text, |c: &Captures<'_>| {
            let hint = (1..c.len())
                .find_map(|i| c.get(i))
                .map_or("", |m| m.as_str());
            format!("{hint}{REDACTED}")
        });
        Cow::Owned(shaped.into_owned())
    }

    /// Redacts every string inside a JSON value, in place.
    pub fn redact_json(&self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => {
                if let Cow::Owned(clean) = self.redact(s) {
                    *s = clean;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| self.redact_json(i)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|i| self.redact_json(i)),
            _ => {}
        }
    }
}

fn replace_secrets(ac: &AhoCorasick, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in ac.find_iter(text) {
        out.push_str(&text[last..m.start()]);
        out.push_str(REDACTED);
        last = m.end();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests;
