//! Which faults a request gets: the `x-sim-fault` header, else a `<<sim:...>>` directive in
//! the body, else the first matching scenario rule, else the seeded mix.
//! Owns the seeded RNGs and rule counters; must never apply faults.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use http::HeaderMap;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

use super::mix::Mix;
use super::scenario::{Request, Scenario};
use super::spec::{FaultError, FaultSet};
use crate::gen::words::splitmix;
use crate::Provider;

/// The request header that picks faults.
pub const FAULT_HEADER: &str = "x-sim-fault";

struct Active {
    scenario: Scenario,
    seen: Vec<u64>,
    rng: SmallRng,
}

struct Inner {
    scenario: Option<Active>,
    mix: Option<(Mix, SmallRng)>,
    seq: u64,
}

/// The fault configuration of a running simulator.
pub(crate) struct FaultState {
    seed: u64,
    needs_model: AtomicBool,
    inner: Mutex<Inner>,
}

/// The faults chosen for one request, and that request's own RNG (for drip jitter).
pub(crate) struct Chosen {
    pub(crate) faults: FaultSet,
    pub(crate) rng: SmallRng,
}

/// The faults chosen for a request, in its extensions for the handlers that act on some
/// themselves (video tasks take their task-level faults from it at submit).
#[derive(Clone, Debug)]
pub(crate) struct ChosenFaults(pub(crate) FaultSet);

fn rng_for(seed: u64, salt: u64) -> SmallRng {
    let mut s = seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    SmallRng::seed_from_u64(splitmix(&mut s))
}

/// The text between `<<sim:` and `>>` in a body, if any.
pub(crate) fn directive(body: &[u8]) -> Option<&str> {
    const OPEN: &[u8] = b"<<sim:";
    let start = body.windows(OPEN.len()).position(|w| w == OPEN)? + OPEN.len();
    let len = body[start..].windows(2).position(|w| w == b">>")?;
    std::str::from_utf8(&body[start..start + len]).ok()
}

#[derive(Deserialize)]
struct ModelOnly {
    model: Option<String>,
}

/// The `model` member of a JSON body, if it has one.
pub(crate) fn json_model(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ModelOnly>(body).ok()?.model
}

/// The `model` part of a multipart body's first bytes (a text part, as the SDKs send it:
/// `Content-Disposition: form-data; name="model"`, a blank line, the value).
pub(crate) fn multipart_model(head: &[u8]) -> Option<String> {
    const NAME: &[u8] = b"name=\"model\"";
    let at = head.windows(NAME.len()).position(|w| w == NAME)? + NAME.len();
    let rest = &head[at..];
    let start = rest.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let len = rest[start..].windows(2).position(|w| w == b"\r\n")?;
    std::str::from_utf8(&rest[start..start + len])
        .ok()
        .map(str::to_owned)
}

impl FaultState {
    pub(crate) fn new(seed: u64, scenario: Option<Scenario>, mix: Option<Mix>) -> Self {
        let state = FaultState {
            seed,
            needs_model: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                scenario: None,
                mix: None,
                seq: 0,
            }),
        };
        state.set_scenario(scenario);
        state.set_mix(mix);
        state
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Installs (or removes) a scenario; its counters and RNG start afresh.
    pub(crate) fn set_scenario(&self, scenario: Option<Scenario>) {
        self.needs_model.store(
            scenario.as_ref().is_some_and(Scenario::needs_model),
            Ordering::SeqCst,
        );
        let seed = self.seed;
        self.lock().scenario = scenario.map(|s| Active {
            seen: vec![0; s.rules.len()],
            rng: rng_for(s.seed.unwrap_or(seed), 1),
            scenario: s,
        });
    }

    /// Installs (or removes) a mix; its RNG starts afresh from the seed.
    pub(crate) fn set_mix(&self, mix: Option<Mix>) {
        let seed = self.seed;
        self.lock().mix = mix.map(|m| (m, rng_for(seed, 2)));
    }

    /// Chooses the faults of one request; `path_model` is the model its path names (Google's
    /// APIs), used for rules with a `model` when the body names none.
    pub(crate) fn choose(
        &self,
        provider: Provider,
        path: &str,
        path_model: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Chosen, FaultError> {
        let explicit = match headers.get(FAULT_HEADER) {
            Some(v) => Some(FaultSet::parse(v.to_str().unwrap_or("?"))?),
            None => directive(body).map(FaultSet::parse).transpose()?,
        };
        let model = if explicit.is_none() && self.needs_model.load(Ordering::SeqCst) {
            json_model(body)
                .or_else(|| multipart_model(body))
                .or_else(|| path_model.map(str::to_owned))
        } else {
            None
        };
        let mut inner = self.lock();
        inner.seq += 1;
        let rng = rng_for(self.seed, inner.seq.wrapping_add(1000));
        if let Some(faults) = explicit {
            return Ok(Chosen { faults, rng });
        }
        let req = Request {
            provider,
            path,
            model: model.as_deref(),
        };
        if let Some(active) = inner.scenario.as_mut() {
            for (i, rule) in active.scenario.rules.iter().enumerate() {
                if !rule.matches(&req) {
                    continue;
                }
                active.seen[i] += 1;
                if rule.in_range(active.seen[i]) {
                    let total: u32 = rule.choices.iter().map(|(_, w)| w).sum();
                    let mut x = active.rng.random_range(0..total.max(1));
                    for (set, w) in &rule.choices {
                        if x < *w {
                            return Ok(Chosen {
                                faults: set.clone(),
                                rng,
                            });
                        }
                        x -= w;
                    }
                }
            }
        }
        let faults = match inner.mix.as_mut() {
            Some((mix, mix_rng)) => mix.draw(mix_rng),
            None => FaultSet::default(),
        };
        Ok(Chosen { faults, rng })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::spec::Fault;

    #[test]
    fn finds_directives() {
        assert_eq!(
            directive(br#"{"content":"hi <<sim:cut=3>> there"}"#),
            Some("cut=3")
        );
        assert_eq!(directive(b"<<sim:reset"), None);
        assert_eq!(directive(b"nothing"), None);
    }

    #[test]
    fn finds_multipart_models() {
        let body =
            b"--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--b--\r\n";
        assert_eq!(multipart_model(body).as_deref(), Some("whisper-1"));
        assert_eq!(multipart_model(b"--b\r\n"), None);
        assert_eq!(
            json_model(br#"{"model":"dall-e-3"}"#).as_deref(),
            Some("dall-e-3")
        );
    }

    #[test]
    fn header_beats_body_beats_scenario() {
        let scenario = Scenario::parse("[[rule]]\nfault = \"reset\"").unwrap();
        let st = FaultState::new(0, Some(scenario), None);
        let mut h = HeaderMap::new();
        let body = b"<<sim:cut=1>>";
        let pick = |h: &HeaderMap, b: &[u8]| {
            st.choose(Provider::OpenAi, "/v1/models", None, h, b)
                .unwrap()
                .faults
                .0
        };
        assert_eq!(pick(&h, b"{}"), vec![Fault::Reset]);
        assert_eq!(pick(&h, body), vec![Fault::Cut(1)]);
        h.insert(FAULT_HEADER, "no-done".parse().unwrap());
        assert_eq!(pick(&h, body), vec![Fault::NoDone]);
        h.insert(FAULT_HEADER, "bogus".parse().unwrap());
        assert!(st.choose(Provider::OpenAi, "/", None, &h, body).is_err());
    }

    #[test]
    fn scenario_counts_and_models() {
        let text = "[[rule]]\nmodel = \"gpt-4o*\"\nrequests = \"..=2\"\nfault = \"status=429\"";
        let st = FaultState::new(0, Some(Scenario::parse(text).unwrap()), None);
        let h = HeaderMap::new();
        let body = br#"{"model":"gpt-4o-mini"}"#;
        let got: Vec<usize> = (0..4)
            .map(|_| {
                st.choose(Provider::OpenAi, "/v1/chat/completions", None, &h, body)
                    .unwrap()
                    .faults
                    .0
                    .len()
            })
            .collect();
        assert_eq!(got, vec![1, 1, 0, 0]);
        let other = st
            .choose(Provider::OpenAi, "/", None, &h, br#"{"model":"o3"}"#)
            .unwrap();
        assert!(other.faults.is_empty());
        let text = "[[rule]]\nmodel = \"gemini-2.5*\"\nfault = \"status=503\"";
        let st = FaultState::new(0, Some(Scenario::parse(text).unwrap()), None);
        let by_path = |model| {
            st.choose(
                Provider::Gemini,
                "/v1beta/models/{model}:generateContent",
                model,
                &h,
                b"{}",
            )
            .unwrap()
            .faults
            .0
            .len()
        };
        assert_eq!(by_path(Some("gemini-2.5-flash")), 1);
        assert_eq!(by_path(Some("gemini-2.0-flash")), 0);
    }
}
