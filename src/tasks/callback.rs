//! Signed callback URLs: the address a provider that takes a `callback_url` (Kling, Luma)
//! reports a task's state changes to.
//!
//! Owns: the URL of a task (`{callback_base_url}/v1/video/callbacks/{task id}/{signature}`, the
//! signature an HMAC-SHA256 of the task id under the callback key) and its check (constant
//! time). Must never: accept a URL whose signature does not verify, or reveal the key.
