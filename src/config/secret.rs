//! A string that must never be printed: provider keys and client tokens.
//!
//! Owns: redaction in `Debug`/`Display`/`Serialize`, and `${VAR}` expansion from the environment.
//! Must never: expose the value except through [`Secret::expose`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The only way to read the value: keep call sites few and greppable.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A short form safe for logs: the first 3 and last 2 characters.
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() <= 8 {
            return "***".to_owned();
        }
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 2..].iter().collect();
        format!("{head}***{tail}")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.hint())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hint())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.hint())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        expand_env(&raw)
            .map(Secret)
            .map_err(serde::de::Error::custom)
    }
}

/// `${NAME}` (the whole value) is replaced by the environment variable NAME.
fn expand_env(raw: &str) -> Result<String, String> {
    match raw.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        Some(name) => std::env::var(name)
            .map_err(|_| format!("environment variable `{name}` (named by `{raw}`) is not set")),
        None => Ok(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("sk-abcdefghijklmnop");
        assert_eq!(format!("{s:?}"), "Secret(sk-***op)");
        assert_eq!(format!("{s}"), "sk-***op");
        assert_eq!(Secret::new("short").hint(), "***");
    }

    #[test]
    fn expands_whole_value_env_references() {
        assert_eq!(expand_env("plain").unwrap(), "plain");
        assert!(expand_env("${SLUICE_SURELY_UNSET_VAR}")
            .unwrap_err()
            .contains("SLUICE_SURELY_UNSET_VAR"));
    }
}
