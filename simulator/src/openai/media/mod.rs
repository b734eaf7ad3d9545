//! OpenAI's media endpoints (images, audio, moderations) and the files their URL answers
//! point at; xAI's image generations.
//! Owns the `/v1/images/*`, `/v1/audio/*`, `/v1/moderations` and `/sim-files/*` routes;
//! must never apply faults.

pub(crate) mod edits;
pub(crate) mod files;
pub(crate) mod form;
mod image_out;
pub(crate) mod images;
pub(crate) mod moderations;
pub(crate) mod speech;
pub(crate) mod transcribe;
mod transcript_out;
mod xai;
