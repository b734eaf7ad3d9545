//! Signed callback URLs: the address a provider that takes a `callback_url` (Kling, Luma)
//! reports a task's state changes to.
//!
//! Owns: the URL of a task (`{callback_base_url}/v1/video/callbacks/{task id}/{signature}`, the
//! signature an HMAC-SHA256 of the task id under the callback key) and its check (constant
//! time). Must never: accept a URL whose signature does not verify, or reveal the key.

use crate::config::VideoConfig;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The path under which callbacks arrive: `/v1/video/callbacks/{task id}/{signature}`.
pub const PATH_PREFIX: &str = "/v1/video/callbacks";

/// The callback key and the public URL, when callbacks are on.
#[derive(Clone)]
pub struct Callbacks {
    base: Option<String>,
    key: Vec<u8>,
}

impl Callbacks {
    /// From `[video]`: the configured key, else a random one for this run.
    pub fn new(config: &VideoConfig) -> Self {
        let key = match &config.callback_secret {
            Some(s) => s.expose().as_bytes().to_vec(),
            None => {
                use rand::RngCore;
                let mut k = vec![0u8; 32];
                rand::rng().fill_bytes(&mut k);
                k
            }
        };
        Self {
            base: config
                .callback_base_url
                .as_ref()
                .map(|b| b.trim_end_matches('/').to_owned()),
            key,
        }
    }

    fn signature(&self, task_id: &str) -> String {
        // A key of any length is accepted by HMAC.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(task_id.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The callback URL of a task, when callbacks are on.
    pub fn url(&self, task_id: &str) -> Option<String> {
        let base = self.base.as_ref()?;
        Some(format!(
            "{base}{PATH_PREFIX}/{task_id}/{}",
            self.signature(task_id)
        ))
    }

    /// Whether `signature` is the one of `task_id` (constant time).
    pub fn verify(&self, task_id: &str, signature: &str) -> bool {
        let Ok(given) = hex::decode(signature) else {
            return false;
        };
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(task_id.as_bytes());
        mac.verify_slice(&given).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_verifies_and_a_changed_one_does_not() {
        let config = VideoConfig {
            callback_base_url: Some("https://relay.test/".to_owned()),
            ..VideoConfig::default()
        };
        let c = Callbacks::new(&config);
        let url = c.url("video_abc").unwrap();
        assert!(
            url.starts_with("https://relay.test/v1/video/callbacks/video_abc/"),
            "{url}"
        );
        let sig = url.rsplit('/').next().unwrap();
        assert!(c.verify("video_abc", sig));
        assert!(!c.verify("video_abd", sig));
        assert!(!c.verify("video_abc", "00"));
        assert!(!c.verify("video_abc", "not hex"));
        let other = Callbacks::new(&config);
        assert!(
            !other.verify("video_abc", sig),
            "each start's random key differs"
        );
        assert_eq!(Callbacks::new(&VideoConfig::default()).url("x"), None);
    }
}
