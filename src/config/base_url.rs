//! A channel's `base_url`, checked and normalised once, when the config is loaded.
//!
//! Owns: what a base URL may be (an `http` or `https` URL with a host, and no query, fragment
//! or user info: credentials belong in `keys`) and its normal form, the API root without a
//! trailing slash, ending in `/v1` whether the config wrote the `/v1` or not
//! (`https://api.anthropic.com` and `https://api.anthropic.com/v1/` both give
//! `https://api.anthropic.com/v1`), unless the path already names a version
//! (`https://generativelanguage.googleapis.com/v1beta/openai` is kept as written).
//! Must never: accept a URL that the upstream client would refuse on the first request.

use url::Url;

/// The normal form of `raw`, or what is wrong with it.
pub(super) fn normalize(raw: &str) -> Result<String, String> {
    checked(raw, true)
}

/// The normal form of a video-only provider's `raw` root (Kling, Runway, Luma, Zhipu,
/// DashScope, Viggle): checked the same way, no trailing slash, no version added (their paths
/// name their own versions from the host's root: `/v1/videos/...`, `/api/paas/v4/...`).
pub(super) fn normalize_root(raw: &str) -> Result<String, String> {
    checked(raw, false)
}

fn checked(raw: &str, add_version: bool) -> Result<String, String> {
    let mut url = Url::parse(raw.trim()).map_err(|e| format!("`{raw}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{raw}` must start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{raw}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{raw}` carries credentials: put keys in `keys`, not in the URL"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{raw}` must have no query (`?...`) or fragment (`#...`)"
        ));
    }
    let path = url.path().trim_end_matches('/');
    let path = if !add_version || path.split('/').any(is_version) {
        path.to_owned()
    } else {
        format!("{path}/v1")
    };
    url.set_path(&path);
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A path segment that names an API version: `v1`, `v4`, `v1beta`, `v2alpha1`. A root that
/// has one already (`/v1beta/openai`, `/api/paas/v4`) is taken as written.
fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    rest.starts_with(|c: char| c.is_ascii_digit())
        && rest.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_video_root_is_kept_as_written() {
        assert_eq!(
            normalize_root("http://127.0.0.1:9000/kling/").unwrap(),
            "http://127.0.0.1:9000/kling"
        );
        assert_eq!(
            normalize_root("https://api.klingai.com").unwrap(),
            "https://api.klingai.com"
        );
        assert!(normalize_root("ftp://x").is_err());
    }

    #[test]
    fn adds_or_keeps_v1_and_drops_trailing_slashes() {
        for (raw, want) in [
            ("https://api.openai.com/v1", "https://api.openai.com/v1"),
            ("https://api.openai.com", "https://api.openai.com/v1"),
            ("https://api.anthropic.com/", "https://api.anthropic.com/v1"),
            (
                "https://api.anthropic.com/v1/",
                "https://api.anthropic.com/v1",
            ),
            (
                "http://127.0.0.1:9000/anthropic",
                "http://127.0.0.1:9000/anthropic/v1",
            ),
            ("http://[::1]:8000/v1", "http://[::1]:8000/v1"),
            ("https://openrouter.ai/api", "https://openrouter.ai/api/v1"),
            // A root that names its own version is kept.
            (
                "https://generativelanguage.googleapis.com/v1beta/openai/",
                "https://generativelanguage.googleapis.com/v1beta/openai",
            ),
            (
                "https://open.bigmodel.cn/api/paas/v4",
                "https://open.bigmodel.cn/api/paas/v4",
            ),
            (
                "http://127.0.0.1:9000/video",
                "http://127.0.0.1:9000/video/v1",
            ),
            ("HTTPS://API.X.AI:443/v1", "https://api.x.ai/v1"),
            (" https://api.x.ai/v1 ", "https://api.x.ai/v1"),
        ] {
            assert_eq!(normalize(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn refuses_what_no_request_could_use() {
        for (raw, why) in [
            ("api.openai.com/v1", "not a URL"),
            ("not a url", "not a URL"),
            ("http://", "not a URL"),
            ("ftp://example.com/v1", "http:// or https://"),
            ("file:///tmp/v1", "http:// or https://"),
            ("https://example.com/v1?key=abc", "no query"),
            ("https://example.com/v1#top", "fragment"),
            ("https://user:pass@example.com/v1", "credentials"),
            ("https://key@example.com/v1", "credentials"),
        ] {
            let err = normalize(raw).unwrap_err();
            assert!(err.contains(why), "{raw}: {err}");
        }
    }
}
