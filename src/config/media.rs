//! The `[media]` section: per endpoint family bounds and deadlines of OpenAI's media endpoints
//! (images, speech, transcriptions, moderations).
//!
//! Owns: each family's largest request body (a multipart upload's whole size, or a JSON
//! body), the memory an upload may hold before what precedes its `model` part is spooled to
//! disk, and the family's first-byte and total deadlines (an image generation takes minutes:
//! its first byte may come long after a chat's would).
//! Must never: allow an unbounded size or wait (zero is rejected), or set a deadline for the
//! text endpoints (those are `[timeouts]`).

use super::ConfigError;
use crate::wire::Family;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// `/v1/images/generations`, `/edits`, `/variations`.
    pub images: FamilyConfig,
    /// `/v1/audio/speech`.
    pub speech: FamilyConfig,
    /// `/v1/audio/transcriptions` and `/translations`.
    pub transcriptions: FamilyConfig,
    /// `/v1/moderations`.
    pub moderations: FamilyConfig,
    /// Bytes of an upload held in memory before its `model` part is found (parts a client sends
    /// before `model`, as the Node SDK does with `file` first); past it they are spooled to a
    /// temporary file, bounded by the family's `max_body`.
    pub upload_memory: usize,
    /// Where upload spools are written (default: the system's temporary directory). Each is
    /// removed when its request ends.
    pub spool_dir: Option<PathBuf>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        let minutes = |m: u64| Some(Duration::from_secs(60 * m));
        Self {
            images: FamilyConfig {
                // Up to 16 input images of an edit; an image generation can take minutes.
                max_body: 64 * 1024 * 1024,
                first_byte: minutes(5),
                total: None,
            },
            speech: FamilyConfig {
                max_body: 1024 * 1024,
                first_byte: None,
                total: None,
            },
            transcriptions: FamilyConfig {
                // OpenAI's own limit: 26214400 bytes.
                max_body: 25 * 1024 * 1024,
                first_byte: minutes(5),
                total: None,
            },
            moderations: FamilyConfig {
                max_body: 4 * 1024 * 1024,
                first_byte: None,
                total: None,
            },
            upload_memory: 256 * 1024,
            spool_dir: None,
        }
    }
}

/// One media family's bounds and deadlines; unset deadlines are `[timeouts]`' (a channel's own
/// `timeouts` win over both).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyConfig {
    /// Largest request body (bytes): a JSON body, or a multipart upload as a whole.
    pub max_body: usize,
    /// From sending the request until the upstream's response headers.
    #[serde(default, with = "humantime_serde")]
    pub first_byte: Option<Duration>,
    /// The whole request, answer included.
    #[serde(default, with = "humantime_serde")]
    pub total: Option<Duration>,
}

impl MediaConfig {
    /// The bounds of a media family; `None` for the text families.
    pub fn family(&self, family: Family) -> Option<&FamilyConfig> {
        match family {
            Family::Images => Some(&self.images),
            Family::Speech => Some(&self.speech),
            Family::Transcriptions => Some(&self.transcriptions),
            Family::Moderations => Some(&self.moderations),
            Family::Chat
            | Family::Completions
            | Family::Embeddings
            | Family::Messages
            | Family::GenerateContent
            | Family::CountTokens
            | Family::EmbedContent
            | Family::Videos
            | Family::Models => None,
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.upload_memory == 0 {
            return Err(ConfigError::Invalid(
                "media.upload_memory must be above 0".to_owned(),
            ));
        }
        let families = [
            ("images", &self.images),
            ("speech", &self.speech),
            ("transcriptions", &self.transcriptions),
            ("moderations", &self.moderations),
        ];
        for (name, f) in families {
            if f.max_body == 0 {
                return Err(ConfigError::Invalid(format!(
                    "media.{name}.max_body must be above 0"
                )));
            }
            for (what, d) in [("first_byte", f.first_byte), ("total", f.total)] {
                if d.is_some_and(|d| d.is_zero()) {
                    return Err(ConfigError::Invalid(format!(
                        "media.{name}.{what} must be above 0"
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_have_bounds_and_zero_is_refused() {
        let m = MediaConfig::default();
        assert_eq!(
            m.family(Family::Transcriptions).unwrap().max_body,
            26_214_400
        );
        assert!(m.family(Family::Chat).is_none());
        assert!(m.validate().is_ok());
        let zero: MediaConfig = toml::from_str("[speech]\nmax_body = 0\n").expect("parses");
        assert!(zero.validate().is_err());
        let late: MediaConfig =
            toml::from_str("[images]\nmax_body = 10\nfirst_byte = \"0s\"\n").expect("parses");
        assert!(late.validate().is_err());
    }
}
