//! Embedding vectors: deterministic unit vectors derived from a text.
//! Owns the vector rule; must never depend on anything but the text and the size.

use super::words::{hash, splitmix};

/// A unit vector of `dims` numbers derived from `text` (the same rule as the OpenAI
/// embeddings'; the same text and size always give the same vector).
pub(crate) fn unit(text: &str, dims: u64) -> Vec<f32> {
    let mut state = hash(text.as_bytes());
    let raw: Vec<f64> = (0..dims)
        .map(|_| (splitmix(&mut state) >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    raw.iter().map(|x| (x / norm) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_and_stable() {
        let v = unit("hello", 64);
        let norm: f32 = v.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4);
        assert_eq!(v, unit("hello", 64));
        assert_ne!(v, unit("hellp", 64));
    }
}
