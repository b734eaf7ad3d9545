//! HTTP plumbing shared by every provider: scripted bodies and replies.
//! Owns how a reply becomes bytes on the wire; must never decide content.

pub(crate) mod body;
pub(crate) mod multipart;
pub(crate) mod reply;
