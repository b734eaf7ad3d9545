//! Zhipu AI's CogVideoX (`open.bigmodel.cn`, `api.z.ai`): video tasks under the host root's
//! `/api/paas/v4/`, with the channel's `id.secret` key sent as is in `Authorization: Bearer`.
//!
//! Owns: the video API (`video`: submit, poll, content) and Zhipu's error envelope and its
//! code table (`errors`). Its text side is `video_only`'s stand-in (no text models route here).
//! Must never: let Zhipu's words out of this folder except as neutral types, or sign a JWT from
//! the key (current Zhipu APIs take the key itself; only old SDKs signed one).

pub(crate) mod errors;
pub(crate) mod video;

pub(crate) use video::ZHIPU;
