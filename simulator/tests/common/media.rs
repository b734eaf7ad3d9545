//! Media helpers: multipart bodies built as httpx (openai-python) builds them, real WAV and
//! PNG files, and readers for the simulator's images.

use std::io::Cursor;

/// One part of a form.
pub enum Part<'a> {
    Text(&'a str, &'a str),
    /// name, filename, content type, bytes.
    File(&'a str, &'a str, &'a str, &'a [u8]),
}

/// A multipart body as httpx writes it: a 32-hex-digit boundary, text fields with only a
/// `Content-Disposition`, files with a filename and a `Content-Type`. Returns the
/// Content-Type header and the body.
pub fn httpx_form(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "0123456789abcdef0123456789abcdef";
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File(name, filename, ct, data) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(data);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A real 16 kHz mono WAV of `secs` seconds of a tone.
pub fn wav(secs: f64) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for i in 0..(secs * 16_000.0) as u32 {
        w.write_sample(((i % 64) as i16 - 32) * 100).unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}

/// A real RGBA PNG of `w` x `h` pixels.
pub fn png_file(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = png::Encoder::new(&mut out, w, h);
    e.set_color(png::ColorType::Rgba);
    e.set_depth(png::BitDepth::Eight);
    e.write_header()
        .unwrap()
        .write_image_data(&vec![128; (w * h * 4) as usize])
        .unwrap();
    out
}

/// Decodes a PNG, returning its size (panics on a bad one).
pub fn png_dims(bytes: &[u8]) -> (u32, u32) {
    let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    (info.width, info.height)
}

/// Decodes base64 (standard alphabet).
pub fn b64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}
