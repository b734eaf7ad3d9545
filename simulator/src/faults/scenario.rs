//! Scenario files: TOML rules matching provider, path, model and request number, each with a
//! fault or a weighted choice of faults; the first matching rule wins.
//! Owns the file format and rule matching; must never serve requests.
//!
//! ```toml
//! seed = 7                         # optional: seeds this scenario's weighted choices
//! [[rule]]
//! provider = "openai"              # optional: openai | anthropic | xai | gemini | vertex | google-oauth | kling | runway | luma | zhipu | dashscope | viggle
//! path = "/v1/chat/completions"    # optional: endpoint path; a trailing * matches a prefix
//!                                  # (Google's name the model `{model}`, see `Provider::endpoint`)
//! model = "gpt-4o*"                # optional: request model; a trailing * matches a prefix
//! requests = "1..=3"               # optional: N, "A..B", "A..=B", "A..", "..B" (1-based)
//! fault = "status=429"             # a fault spec, or:
//! choose = [{ weight = 3, fault = "status=503" }, { weight = 7, fault = "none" }]
//! ```
//! `requests` counts, from 1, the requests that matched the rule's other conditions since the
//! scenario was installed.

use std::path::Path;

use serde::Deserialize;

use super::spec::{FaultError, FaultSet};
use crate::Provider;

/// A bad scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("scenario is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("rule {rule}: {source}")]
    Fault { rule: usize, source: FaultError },
    #[error("rule {rule}: unknown provider `{name}` (known: openai, anthropic, xai, gemini, vertex, google-oauth, kling, runway, luma, zhipu, dashscope, viggle)")]
    Provider { rule: usize, name: String },
    #[error("rule {rule}: bad requests range `{text}` (expected N, A..B, A..=B, A.. or ..B)")]
    Range { rule: usize, text: String },
    #[error("rule {rule}: give exactly one of `fault` or `choose` (with positive weights)")]
    NoFault { rule: usize },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    seed: Option<u64>,
    #[serde(default)]
    rule: Vec<RuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    provider: Option<String>,
    path: Option<String>,
    model: Option<String>,
    requests: Option<toml::Value>,
    fault: Option<String>,
    choose: Option<Vec<ChoiceFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChoiceFile {
    weight: u32,
    fault: String,
}

/// One rule of a scenario.
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    provider: Option<Provider>,
    path: Option<String>,
    model: Option<String>,
    requests: Option<(u64, u64)>,
    pub(crate) choices: Vec<(FaultSet, u32)>,
}

/// A parsed scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub(crate) seed: Option<u64>,
    pub(crate) rules: Vec<Rule>,
}

/// What a rule looks at in a request.
pub(crate) struct Request<'a> {
    pub(crate) provider: Provider,
    pub(crate) path: &'a str,
    pub(crate) model: Option<&'a str>,
}

fn glob(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

impl Rule {
    /// Whether the request passes the provider/path/model conditions.
    pub(crate) fn matches(&self, r: &Request<'_>) -> bool {
        self.provider.is_none_or(|p| p == r.provider)
            && self.path.as_deref().is_none_or(|p| glob(p, r.path))
            && self
                .model
                .as_deref()
                .is_none_or(|m| r.model.is_some_and(|rm| glob(m, rm)))
    }

    /// Whether the `n`th matching request (from 1) is in the rule's range.
    pub(crate) fn in_range(&self, n: u64) -> bool {
        self.requests.is_none_or(|(lo, hi)| lo <= n && n <= hi)
    }
}

fn range(v: &toml::Value) -> Option<(u64, u64)> {
    if let Some(n) = v.as_integer() {
        let n = u64::try_from(n).ok()?;
        return Some((n, n));
    }
    let s = v.as_str()?.trim();
    let (lo, hi) = s.split_once("..")?;
    let lo = if lo.is_empty() {
        1
    } else {
        lo.trim().parse().ok()?
    };
    let hi = match hi.strip_prefix('=') {
        Some(h) => h.trim().parse().ok()?,
        None if hi.is_empty() => u64::MAX,
        None => hi.trim().parse::<u64>().ok()?.checked_sub(1)?,
    };
    Some((lo, hi))
}

impl Scenario {
    /// Parses scenario TOML.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let file: File = toml::from_str(text)?;
        let mut rules = Vec::new();
        for (i, r) in file.rule.into_iter().enumerate() {
            let rule = i + 1;
            let provider = match r.provider {
                None => None,
                Some(name) => {
                    Some(Provider::from_name(&name).ok_or(ScenarioError::Provider { rule, name })?)
                }
            };
            let requests = match &r.requests {
                None => None,
                Some(v) => Some(range(v).ok_or_else(|| ScenarioError::Range {
                    rule,
                    text: v.to_string(),
                })?),
            };
            let fault = |text: &str| {
                FaultSet::parse(text).map_err(|source| ScenarioError::Fault { rule, source })
            };
            let choices = match (r.fault, r.choose) {
                (Some(f), None) => vec![(fault(&f)?, 1)],
                (None, Some(list)) if list.iter().any(|c| c.weight > 0) => list
                    .iter()
                    .map(|c| Ok((fault(&c.fault)?, c.weight)))
                    .collect::<Result<_, ScenarioError>>()?,
                _ => return Err(ScenarioError::NoFault { rule }),
            };
            rules.push(Rule {
                provider,
                path: r.path,
                model: r.model,
                requests,
                choices,
            });
        }
        Ok(Scenario {
            seed: file.seed,
            rules,
        })
    }

    /// Reads and parses a scenario file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Scenario::parse(&text)
    }

    /// Whether any rule looks at the model (so the body must be parsed for it).
    pub(crate) fn needs_model(&self) -> bool {
        self.rules.iter().any(|r| r.model.is_some())
    }
}

impl std::str::FromStr for Scenario {
    type Err = ScenarioError;
    fn from_str(s: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules() {
        let s = Scenario::parse(
            r#"
            seed = 3
            [[rule]]
            provider = "openai"
            path = "/v1/chat/*"
            model = "gpt-4o*"
            requests = "2..=3"
            fault = "status=429"
            [[rule]]
            choose = [{ weight = 1, fault = "reset" }, { weight = 3, fault = "none" }]
            "#,
        )
        .unwrap();
        assert_eq!(s.seed, Some(3));
        let r = &s.rules[0];
        let req = Request {
            provider: Provider::OpenAi,
            path: "/v1/chat/completions",
            model: Some("gpt-4o-mini"),
        };
        assert!(r.matches(&req));
        assert!(!r.in_range(1) && r.in_range(2) && r.in_range(3) && !r.in_range(4));
        let other = Request {
            provider: Provider::Xai,
            ..req
        };
        assert!(!r.matches(&other));
        assert_eq!(s.rules[1].choices.len(), 2);
        assert!(s.needs_model());
    }

    #[test]
    fn ranges() {
        let r = |s: &str| range(&toml::Value::from(s));
        assert_eq!(r("1..3"), Some((1, 2)));
        assert_eq!(r("1..=3"), Some((1, 3)));
        assert_eq!(r("5.."), Some((5, u64::MAX)));
        assert_eq!(r("..3"), Some((1, 2)));
        assert_eq!(range(&toml::Value::from(4)), Some((4, 4)));
        assert_eq!(r("x"), None);
    }

    #[test]
    fn errors_name_the_problem() {
        let err = |t: &str| Scenario::parse(t).unwrap_err().to_string();
        assert!(err("[[rule]]\nfault = \"stauts=1\"").contains("rule 1: unknown fault `stauts`"));
        assert!(err("[[rule]]\nprovider = \"bard\"\nfault = \"reset\"")
            .contains("unknown provider `bard`"));
        assert!(
            Scenario::parse("[[rule]]\nprovider = \"google-oauth\"\nfault = \"reset\"").is_ok()
        );
        assert!(
            err("[[rule]]\nrequests = \"a..b\"\nfault = \"reset\"").contains("bad requests range")
        );
        assert!(err("[[rule]]\npath = \"/x\"").contains("exactly one of"));
        assert!(err("[[rule]]\nfualt = \"reset\"").contains("not valid TOML"));
        assert!(err("[[rule").contains("not valid TOML"));
        assert!(Scenario::from_file("/nonexistent/x.toml")
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/x.toml"));
    }
}
