//! OpenAI's image `size` as the aspect ratio a Google image model takes.
//!
//! Owns: reading `size` (`WIDTHxHEIGHT` or `auto`) and choosing, of the ratios the model
//! takes, the one nearest its width:height (exact where one is: `1024x1024` is `1:1`,
//! `1536x1024` `3:2`, `1792x1024` is nearest `16:9`). Must never: refuse a well-formed size
//! (Google's models draw at their own resolutions; the ratio is what carries over).

use crate::bridges::common::Side;
use crate::wire::ConvertError;

/// The ratio nearest `size` among `ratios` (`W:H` words); `None` for no size or `auto`.
pub(crate) fn aspect_ratio(
    size: Option<&str>,
    ratios: &[&'static str],
) -> Result<Option<&'static str>, ConvertError> {
    let size = match size {
        None | Some("auto") => return Ok(None),
        Some(s) => s,
    };
    let bad = || Side::Request.err(format!("size must be WIDTHxHEIGHT or auto, not {size:?}"));
    let (w, h) = dims(size, 'x').ok_or_else(bad)?;
    let want = (w / h).ln();
    let nearest = ratios
        .iter()
        .filter_map(|r| dims(r, ':').map(|(a, b)| (*r, ((a / b).ln() - want).abs())))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(r, _)| r);
    Ok(nearest)
}

/// Two positive numbers joined by `sep`.
fn dims(s: &str, sep: char) -> Option<(f64, f64)> {
    let (a, b) = s.split_once(sep)?;
    let a: u32 = a.trim().parse().ok().filter(|n| *n > 0)?;
    let b: u32 = b.trim().parse().ok().filter(|n| *n > 0)?;
    Some((f64::from(a), f64::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::gemini::media::{IMAGEN_RATIOS, IMAGE_MODEL_RATIOS};

    #[test]
    fn sizes_become_the_nearest_ratio() {
        let g = |s| aspect_ratio(Some(s), IMAGE_MODEL_RATIOS).unwrap();
        assert_eq!(g("1024x1024"), Some("1:1"));
        assert_eq!(g("256x256"), Some("1:1"));
        assert_eq!(g("1536x1024"), Some("3:2"));
        assert_eq!(g("1024x1536"), Some("2:3"));
        assert_eq!(g("1792x1024"), Some("16:9"));
        assert_eq!(g("1024x1792"), Some("9:16"));
        assert_eq!(g("2560x1080"), Some("21:9"));
        let i = |s| aspect_ratio(Some(s), IMAGEN_RATIOS).unwrap();
        assert_eq!(i("1536x1024"), Some("4:3"));
        assert_eq!(i("1792x1024"), Some("16:9"));
        assert_eq!(aspect_ratio(None, IMAGEN_RATIOS).unwrap(), None);
        assert_eq!(aspect_ratio(Some("auto"), IMAGEN_RATIOS).unwrap(), None);
        for bad in ["big", "0x10", "10x", "x10", "-5x3", "1024*1024"] {
            assert!(aspect_ratio(Some(bad), IMAGEN_RATIOS).is_err(), "{bad}");
        }
    }
}
