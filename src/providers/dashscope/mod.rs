//! Alibaba Cloud DashScope's Wan video models (`dashscope.aliyuncs.com`, the international
//! `dashscope-intl.aliyuncs.com`): async tasks under the host root's `/api/v1/`, Bearer key.
//!
//! Owns: the video API (`video`: submit with `X-DashScope-Async: enable`, poll, content,
//! cancel) and DashScope's error body and its code words (`errors`). Its text side is
//! `video_only`'s stand-in (no text models route here).
//! Must never: let DashScope's words out of this folder except as neutral types, or submit
//! without the async header (DashScope refuses synchronous video calls with a 403).

pub(crate) mod errors;
pub(crate) mod video;

pub(crate) use video::DASHSCOPE;
