//! `POST /v1/images/edits` and `/v1/images/variations` (multipart, as the SDKs send them:
//! one `image`, repeated `image` or `image[]`, optional `mask`; numbers and booleans as text).
//! Owns the edit and variation rules (files sniffed, not trusted by their part type); must
//! never format answers.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::response::Response;
use http::HeaderMap;

use super::form::{self, IMAGE_LIMIT};
use super::image_out::{files_url, Family, ImageJob, Op};
use super::images::{check_format, check_n, check_prompt, check_size, check_stream};
use crate::errors::{media, ApiError};
use crate::gen::image::{png_size, PNG_MAGIC};
use crate::gen::{text, words::hash};
use crate::headers::respond;
use crate::http::multipart::{FilePart, Form};
use crate::openai::{common, Api};

/// Most images one edit takes.
const MAX_IMAGES: usize = 16;
/// dall-e-2's limit per image and mask (4 MB).
const DALL_E_2_FILE: u64 = 4 << 20;

pub(crate) async fn edit(
    State(api): State<Api>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let result = match read(&api, &headers, body).await {
        Ok(f) => edit_job(&f, &api, &headers, uri.path()).map(|j| j.reply()),
        Err(e) => Err(e),
    };
    respond(api.ctx.provider, &api.ctx.shared.ids, started, result)
}

pub(crate) async fn variation(
    State(api): State<Api>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let result = match read(&api, &headers, body).await {
        Ok(f) => variation_job(&f, &api, &headers, uri.path()).map(|j| j.reply()),
        Err(e) => Err(e),
    };
    respond(api.ctx.provider, &api.ctx.shared.ids, started, result)
}

async fn read(api: &Api, headers: &HeaderMap, body: Body) -> Result<Form, ApiError> {
    common::check_auth(api.ctx.provider, headers)?;
    form::read(headers, body, IMAGE_LIMIT).await
}

fn is_image(f: &FilePart) -> bool {
    f.head.starts_with(PNG_MAGIC)
        || f.head.starts_with(b"\xff\xd8\xff")
        || (f.head.starts_with(b"RIFF") && f.head.get(8..12) == Some(b"WEBP".as_slice()))
}

/// The images of an edit, checked: 1..=16, each a PNG, JPEG or WebP (dall-e-2: one square
/// PNG under 4 MB).
fn images(form: &Form, family: Family) -> Result<Vec<&FilePart>, ApiError> {
    let images = form.files(&["image", "image[]"]);
    if images.is_empty() {
        return Err(common::missing("image"));
    }
    if images.len() > MAX_IMAGES || (family == Family::DallE2 && images.len() > 1) {
        let mut e = ApiError::invalid(format!(
            "Invalid 'image': array too long. Expected an array with maximum length {}, but got an array with length {} instead.",
            if family == Family::DallE2 { 1 } else { MAX_IMAGES },
            images.len()
        ));
        e.param = Some("image");
        return Err(e);
    }
    for (i, f) in images.iter().enumerate() {
        let square_png = png_size(&f.head).is_some_and(|(w, h)| w == h) && f.size < DALL_E_2_FILE;
        if !is_image(f) || (family == Family::DallE2 && !square_png) {
            return Err(media::invalid_image(i + 1));
        }
    }
    Ok(images)
}

fn seed_of(prompt: &str, files: &[&FilePart]) -> u64 {
    files
        .iter()
        .fold(hash(prompt.as_bytes()), |h, f| h.rotate_left(7) ^ f.hash)
}

fn edit_job(form: &Form, api: &Api, headers: &HeaderMap, path: &str) -> Result<ImageJob, ApiError> {
    let model = api.model(Some(
        form.text("model").unwrap_or("gpt-image-1.5").to_owned(),
    ))?;
    let family = Family::of(&model);
    if family == Family::DallE3 {
        return Err(ApiError::invalid(
            "Invalid model dall-e-3. The model must be one of dall-e-2 or a GPT image model.",
        ));
    }
    let prompt = check_prompt(family, form.text("prompt"))?;
    let images = images(form, family)?;
    if let Some(mask) = form.files(&["mask"]).first() {
        // The mask's own wording is the simulator's (unconfirmed).
        let mask_size = png_size(&mask.head);
        let image_size = png_size(&images[0].head);
        let fits = mask_size.is_some() && (image_size.is_none() || image_size == mask_size);
        if !fits {
            return Err(ApiError::invalid(
                "Invalid mask image: the mask must be a PNG of the same size as the image.",
            ));
        }
    }
    let n = check_n(family, form::number(form, "n")?)?;
    let default_size = if family == Family::GptImage {
        "auto"
    } else {
        "1024x1024"
    };
    let size = form.text("size").unwrap_or(default_size).to_owned();
    check_size(&model, family, Op::Edit, &size)?;
    let b64 = check_format(family, form.text("response_format"))?;
    let stream = form.flag("stream");
    let partial_images = check_stream(family, stream, form::number(form, "partial_images")?)?;
    Ok(ImageJob {
        op: Op::Edit,
        family,
        n,
        size,
        quality: form.text("quality").unwrap_or("auto").to_owned(),
        b64,
        stream,
        partial_images,
        text_tokens: text::words(&prompt).max(1),
        input_images: images.len() as u64,
        seed: seed_of(&prompt, &images),
        files_url: files_url(headers, path),
    })
}

fn variation_job(
    form: &Form,
    api: &Api,
    headers: &HeaderMap,
    path: &str,
) -> Result<ImageJob, ApiError> {
    let model = api.model(Some(form.text("model").unwrap_or("dall-e-2").to_owned()))?;
    if !model.starts_with("dall-e-2") {
        let mut e = ApiError::invalid(format!(
            "Invalid value: '{model}'. Supported values are: 'dall-e-2'."
        ));
        e.param = Some("model");
        return Err(e);
    }
    let images = images(form, Family::DallE2)?;
    let n = check_n(Family::DallE2, form::number(form, "n")?)?;
    let size = form.text("size").unwrap_or("1024x1024").to_owned();
    check_size(&model, Family::DallE2, Op::Variation, &size)?;
    let b64 = check_format(Family::DallE2, form.text("response_format"))?;
    Ok(ImageJob {
        op: Op::Variation,
        family: Family::DallE2,
        n,
        size,
        quality: "standard".to_owned(),
        b64,
        stream: false,
        partial_images: 0,
        text_tokens: 0,
        input_images: 1,
        seed: seed_of("", &images),
        files_url: files_url(headers, path),
    })
}
