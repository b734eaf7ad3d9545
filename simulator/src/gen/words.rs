//! The answer generator: words from a fixed vocabulary chosen by hashing the prompt.
//! Owns the length/stop rules shared by every provider; must never read the clock or an RNG.

/// Answer length when the request sets no token limit.
pub(crate) const DEFAULT_WORDS: u64 = 12;
/// Upper bound on generated words, whatever the request asks.
pub(crate) const MAX_WORDS: u64 = 4096;

const VOCAB: [&str; 64] = [
    "river", "stone", "light", "quiet", "amber", "north", "cloud", "green", "swift", "ember",
    "maple", "ocean", "pixel", "delta", "crisp", "lunar", "harbor", "meadow", "signal", "copper",
    "willow", "canyon", "orbit", "velvet", "summit", "lantern", "breeze", "cobalt", "prairie",
    "thunder", "glacier", "falcon", "garden", "silver", "marble", "rocket", "forest", "valley",
    "island", "coral", "desert", "spiral", "echo", "beacon", "cedar", "frost", "ripple", "saffron",
    "timber", "violet", "anchor", "bramble", "cinder", "dune", "fable", "granite", "hollow",
    "indigo", "juniper", "kettle", "linen", "mosaic", "nectar", "opal",
];

/// How a generated answer ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    /// Ended naturally (default length reached).
    Natural,
    /// Reached the request's token limit.
    Length,
    /// A generated word equalled this stop string.
    StopSequence(String),
}

/// A planned answer: its words and why it ended.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) words: Vec<&'static str>,
    pub(crate) finish: Finish,
}

impl Plan {
    /// The answer as one string.
    pub(crate) fn text(&self) -> String {
        self.words.join(" ")
    }

    /// The streamed pieces: one per word, words after the first carry a leading space.
    pub(crate) fn deltas(&self) -> impl Iterator<Item = String> + '_ {
        self.words.iter().enumerate().map(|(i, w)| {
            if i == 0 {
                (*w).to_owned()
            } else {
                format!(" {w}")
            }
        })
    }
}

/// FNV-1a, stable across platforms and releases.
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// splitmix64 step: a tiny deterministic stream of numbers from a seed.
pub(crate) fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Words for `prompt` (choice `choice`), limited by `max_tokens` and cut at any `stops` word.
pub(crate) fn plan(prompt: &str, choice: u64, max_tokens: Option<u64>, stops: &[String]) -> Plan {
    let limit = max_tokens.map_or(DEFAULT_WORDS, |m| m.min(MAX_WORDS));
    let mut state = hash(prompt.as_bytes()) ^ choice.wrapping_mul(0x2545_f491_4f6c_dd1d);
    let mut words = Vec::new();
    for _ in 0..limit {
        let idx = usize::try_from(splitmix(&mut state) % VOCAB.len() as u64).unwrap_or(0);
        let word = VOCAB[idx];
        if let Some(stop) = stops.iter().find(|s| s.trim() == word) {
            return Plan {
                words,
                finish: Finish::StopSequence(stop.clone()),
            };
        }
        words.push(word);
    }
    let finish = if max_tokens.is_some() {
        Finish::Length
    } else {
        Finish::Natural
    };
    Plan { words, finish }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_prompt_same_words() {
        let a = plan("hello", 0, None, &[]);
        let b = plan("hello", 0, None, &[]);
        assert_eq!(a.words, b.words);
        assert_eq!(a.words.len(), 12);
        assert_eq!(a.finish, Finish::Natural);
        assert_ne!(a.words, plan("hello", 1, None, &[]).words);
    }

    #[test]
    fn limit_and_stop() {
        let p = plan("x", 0, Some(20), &[]);
        assert_eq!((p.words.len(), p.finish.clone()), (20, Finish::Length));
        let stop = p.words[5].to_owned();
        let first = p.words.iter().position(|w| *w == stop).unwrap_or(5);
        let q = plan("x", 0, Some(20), std::slice::from_ref(&stop));
        assert_eq!(q.words.len(), first);
        assert_eq!(q.finish, Finish::StopSequence(stop));
        assert_eq!(plan("x", 0, Some(1_000_000), &[]).words.len(), 4096);
    }

    #[test]
    fn deltas_rebuild_text() {
        let p = plan("abc", 0, None, &[]);
        assert_eq!(p.deltas().collect::<String>(), p.text());
    }
}
