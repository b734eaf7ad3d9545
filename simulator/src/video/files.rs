//! The result files, generated from a task's record on each download (never stored): a
//! small valid MP4 (`ftyp`, `moov` with `mvhd` and one video `trak`, `mdat`; one sample per
//! second, duration = the task's seconds), a 1x1 WebP thumbnail and a grey baseline JPEG
//! spritesheet.
//! Owns the bytes' layout; must never serve them.

use crate::gen::words::splitmix;

/// Movie time units per second.
const TIMESCALE: u32 = 1000;
/// Bytes of each one-second sample in `mdat`.
const SAMPLE: usize = 96;
/// Width and height written in the track header and sample entry.
const WIDTH: u16 = 320;
const HEIGHT: u16 = 180;

fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len() + 8).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

fn full(kind: &[u8; 4], version_flags: u32, body: &[u8]) -> Vec<u8> {
    let mut b = version_flags.to_be_bytes().to_vec();
    b.extend_from_slice(body);
    boxed(kind, &b)
}

fn be32(v: &mut Vec<u8>, n: u32) {
    v.extend_from_slice(&n.to_be_bytes());
}

/// The unity matrix of `mvhd`/`tkhd`.
fn matrix(v: &mut Vec<u8>) {
    for n in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        be32(v, n);
    }
}

fn mvhd(duration: u32) -> Vec<u8> {
    let mut b = Vec::new();
    be32(&mut b, 0); // creation time
    be32(&mut b, 0); // modification time
    be32(&mut b, TIMESCALE);
    be32(&mut b, duration);
    be32(&mut b, 0x0001_0000); // rate 1.0
    b.extend_from_slice(&[0x01, 0x00, 0, 0]); // volume 1.0, reserved
    b.extend_from_slice(&[0; 8]);
    matrix(&mut b);
    b.extend_from_slice(&[0; 24]); // pre-defined
    be32(&mut b, 2); // next track id
    full(b"mvhd", 0, &b)
}

fn tkhd(duration: u32) -> Vec<u8> {
    let mut b = Vec::new();
    be32(&mut b, 0);
    be32(&mut b, 0);
    be32(&mut b, 1); // track id
    be32(&mut b, 0);
    be32(&mut b, duration);
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&[0; 4]); // layer, alternate group
    b.extend_from_slice(&[0; 4]); // volume 0 (video), reserved
    matrix(&mut b);
    be32(&mut b, u32::from(WIDTH) << 16);
    be32(&mut b, u32::from(HEIGHT) << 16);
    full(b"tkhd", 3, &b) // enabled, in movie
}

fn mdhd(duration: u32) -> Vec<u8> {
    let mut b = Vec::new();
    be32(&mut b, 0);
    be32(&mut b, 0);
    be32(&mut b, TIMESCALE);
    be32(&mut b, duration);
    b.extend_from_slice(&[0x55, 0xc4, 0, 0]); // language `und`, pre-defined
    full(b"mdhd", 0, &b)
}

fn hdlr() -> Vec<u8> {
    let mut b = vec![0; 4];
    b.extend_from_slice(b"vide");
    b.extend_from_slice(&[0; 12]);
    b.extend_from_slice(b"VideoHandler\0");
    full(b"hdlr", 0, &b)
}

fn avc1() -> Vec<u8> {
    let mut b = vec![0; 6];
    b.extend_from_slice(&1u16.to_be_bytes()); // data reference index
    b.extend_from_slice(&[0; 16]);
    b.extend_from_slice(&WIDTH.to_be_bytes());
    b.extend_from_slice(&HEIGHT.to_be_bytes());
    be32(&mut b, 0x0048_0000); // 72 dpi
    be32(&mut b, 0x0048_0000);
    be32(&mut b, 0);
    b.extend_from_slice(&1u16.to_be_bytes()); // frame count
    b.extend_from_slice(&[0; 32]); // compressor name
    b.extend_from_slice(&0x0018u16.to_be_bytes()); // depth
    b.extend_from_slice(&(-1i16).to_be_bytes());
    // avcC: baseline profile, one SPS and one PPS (placeholders of the right form).
    let sps = [0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10];
    let pps = [0x68, 0xcb, 0x83, 0xcb, 0x20];
    let mut c = vec![1, 0x42, 0xc0, 0x0d, 0xff, 0xe1];
    c.extend_from_slice(&u16::try_from(sps.len()).unwrap_or(0).to_be_bytes());
    c.extend_from_slice(&sps);
    c.push(1);
    c.extend_from_slice(&u16::try_from(pps.len()).unwrap_or(0).to_be_bytes());
    c.extend_from_slice(&pps);
    b.extend_from_slice(&boxed(b"avcC", &c));
    boxed(b"avc1", &b)
}

fn stbl(samples: u32, chunk_offset: u32) -> Vec<u8> {
    let mut stsd = Vec::new();
    be32(&mut stsd, 1);
    stsd.extend_from_slice(&avc1());
    let mut stts = Vec::new();
    be32(&mut stts, 1);
    be32(&mut stts, samples);
    be32(&mut stts, TIMESCALE);
    let mut stsc = Vec::new();
    be32(&mut stsc, 1);
    be32(&mut stsc, 1); // first chunk
    be32(&mut stsc, samples); // samples per chunk
    be32(&mut stsc, 1); // description index
    let mut stsz = Vec::new();
    be32(&mut stsz, u32::try_from(SAMPLE).unwrap_or(0));
    be32(&mut stsz, samples);
    let mut stco = Vec::new();
    be32(&mut stco, 1);
    be32(&mut stco, chunk_offset);
    let mut b = full(b"stsd", 0, &stsd);
    b.extend_from_slice(&full(b"stts", 0, &stts));
    b.extend_from_slice(&full(b"stsc", 0, &stsc));
    b.extend_from_slice(&full(b"stsz", 0, &stsz));
    b.extend_from_slice(&full(b"stco", 0, &stco));
    boxed(b"stbl", &b)
}

fn moov(seconds: u32, chunk_offset: u32) -> Vec<u8> {
    let duration = seconds.saturating_mul(TIMESCALE);
    let mut minf = full(b"vmhd", 1, &[0; 8]);
    let dref = {
        let mut d = Vec::new();
        be32(&mut d, 1);
        d.extend_from_slice(&full(b"url ", 1, &[]));
        full(b"dref", 0, &d)
    };
    minf.extend_from_slice(&boxed(b"dinf", &dref));
    minf.extend_from_slice(&stbl(seconds, chunk_offset));
    let mut mdia = mdhd(duration);
    mdia.extend_from_slice(&hdlr());
    mdia.extend_from_slice(&boxed(b"minf", &minf));
    let mut trak = tkhd(duration);
    trak.extend_from_slice(&boxed(b"mdia", &mdia));
    let mut b = mvhd(duration);
    b.extend_from_slice(&boxed(b"trak", &trak));
    boxed(b"moov", &b)
}

/// A valid MP4 of `seconds` (at least 1) whose sample bytes come from `seed`.
pub(crate) fn mp4(seed: u64, seconds: u32) -> Vec<u8> {
    let seconds = seconds.clamp(1, 600);
    let mut ftyp = b"isom".to_vec();
    be32(&mut ftyp, 0x200);
    ftyp.extend_from_slice(b"isomiso2avc1mp41");
    let ftyp = boxed(b"ftyp", &ftyp);
    let moov_len = moov(seconds, 0).len();
    let offset = u32::try_from(ftyp.len() + moov_len + 8).unwrap_or(0);
    let mut data = Vec::with_capacity(SAMPLE * seconds as usize);
    let mut s = seed;
    while data.len() < SAMPLE * seconds as usize {
        data.extend_from_slice(&splitmix(&mut s).to_le_bytes());
    }
    data.truncate(SAMPLE * seconds as usize);
    let mut out = ftyp;
    out.extend_from_slice(&moov(seconds, offset));
    out.extend_from_slice(&boxed(b"mdat", &data));
    out
}

/// A 1x1 lossless WebP (RIFF, `WEBP`, one `VP8L` chunk).
pub(crate) const WEBP: &[u8] = &[
    0x52, 0x49, 0x46, 0x46, 0x1a, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4c,
    0x0d, 0x00, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe,
    0x07, 0x00,
];

fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xff, marker];
    out.extend_from_slice(&u16::try_from(body.len() + 2).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A grey baseline JPEG of `w`x`h` 8x8 blocks (one component; every block DC 0, no AC, with
/// one-code Huffman tables), e.g. a spritesheet.
pub(crate) fn jpeg(w_blocks: u16, h_blocks: u16) -> Vec<u8> {
    let mut out = vec![0xff, 0xd8];
    out.extend_from_slice(&segment(0xe0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
    let mut dqt = vec![0];
    dqt.extend_from_slice(&[1; 64]);
    out.extend_from_slice(&segment(0xdb, &dqt));
    let (w, h) = (w_blocks.max(1) * 8, h_blocks.max(1) * 8);
    let mut sof = vec![8];
    sof.extend_from_slice(&h.to_be_bytes());
    sof.extend_from_slice(&w.to_be_bytes());
    sof.extend_from_slice(&[1, 1, 0x11, 0]);
    out.extend_from_slice(&segment(0xc0, &sof));
    for class in [0x00, 0x10] {
        let mut dht = vec![class, 1];
        dht.extend_from_slice(&[0; 15]);
        dht.push(0);
        out.extend_from_slice(&segment(0xc4, &dht));
    }
    out.extend_from_slice(&segment(0xda, &[1, 1, 0, 0, 0x3f, 0]));
    // Two zero bits per block (DC category 0, EOB), padded with ones.
    let bits = usize::from(w_blocks.max(1)) * usize::from(h_blocks.max(1)) * 2;
    let mut data = vec![0u8; bits.div_ceil(8)];
    let pad = data.len() * 8 - bits;
    if let Some(last) = data.last_mut() {
        *last = (1u8 << pad).wrapping_sub(1);
    }
    out.extend_from_slice(&data);
    out.extend_from_slice(&[0xff, 0xd9]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The top-level boxes of an MP4: (kind, size).
    fn top_boxes(b: &[u8]) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 8 <= b.len() {
            let len = u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
            out.push((
                String::from_utf8_lossy(&b[at + 4..at + 8]).into_owned(),
                len,
            ));
            at += len.max(8);
        }
        assert_eq!(at, b.len());
        out
    }

    #[test]
    fn mp4_is_boxes_with_the_duration() {
        let v = mp4(3, 8);
        let kinds: Vec<String> = top_boxes(&v).into_iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, ["ftyp", "moov", "mdat"]);
        assert_eq!(v, mp4(3, 8));
        assert_ne!(v, mp4(4, 8));
        assert!(mp4(1, 12).len() > mp4(1, 4).len());
        let at = v.windows(4).position(|w| w == b"mvhd").unwrap();
        let d = &v[at + 4 + 16..at + 4 + 20];
        assert_eq!(u32::from_be_bytes([d[0], d[1], d[2], d[3]]), 8000);
    }

    /// Walks the container boxes, checking every child fills its parent exactly; returns the
    /// kinds seen, depth first.
    fn walk(b: &[u8], out: &mut Vec<String>) {
        const CONTAINERS: [&[u8]; 6] = [b"moov", b"trak", b"mdia", b"minf", b"dinf", b"stbl"];
        let mut at = 0;
        while at < b.len() {
            assert!(at + 8 <= b.len(), "a box header past the end");
            let len = u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
            assert!(len >= 8 && at + len <= b.len(), "box length {len} at {at}");
            let kind = &b[at + 4..at + 8];
            out.push(String::from_utf8_lossy(kind).into_owned());
            if CONTAINERS.contains(&kind) {
                walk(&b[at + 8..at + len], out);
            }
            at += len;
        }
    }

    #[test]
    fn every_box_fills_its_parent_and_the_chunk_offset_points_into_mdat() {
        let v = mp4(9, 12);
        let mut kinds = Vec::new();
        walk(&v, &mut kinds);
        for k in [
            "mvhd", "tkhd", "mdhd", "hdlr", "vmhd", "dref", "stsd", "stts", "stsc", "stsz", "stco",
        ] {
            assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
        }
        let at = v.windows(4).position(|w| w == b"stco").unwrap();
        let o = &v[at + 12..at + 16];
        let offset = u32::from_be_bytes([o[0], o[1], o[2], o[3]]) as usize;
        let mdat = v.windows(4).position(|w| w == b"mdat").unwrap();
        assert_eq!(offset, mdat + 4);
        assert_eq!(v.len() - offset, SAMPLE * 12);
    }

    #[test]
    fn images_have_their_magic() {
        assert_eq!(&WEBP[..4], b"RIFF");
        assert_eq!(&WEBP[8..12], b"WEBP");
        assert_eq!(WEBP.len(), 8 + 0x1a);
        let j = jpeg(4, 2);
        assert_eq!(&j[..2], &[0xff, 0xd8]);
        assert_eq!(&j[j.len() - 2..], &[0xff, 0xd9]);
    }
}
