//! The fault grammar: `FAULT[, FAULT...]` with `FAULT = name[=arg]`, parsed into a [`FaultSet`].
//! Owns fault names, arguments and their errors; must never apply a fault.

use std::fmt;
use std::time::Duration;

/// One fault (or modifier) a request can be served with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `status=CODE`: answer with the provider's error for CODE (400..=599).
    Status(u16),
    /// `retry-after=SECS`: the `retry-after` value of a status fault (default 1 on 429/503/529).
    RetryAfter(u64),
    /// `truncate=N`: promise the whole body, close the connection after N bytes.
    Truncate(usize),
    /// `cut=N`: a stream breaks off (connection aborted) after N events.
    Cut(usize),
    /// `stall-headers[=DUR]`: read the request, answer nothing; after DUR close the connection.
    StallHeaders(Option<Duration>),
    /// `stall-after=N`: a stream sends N events, then nothing, and stays open.
    StallAfter(usize),
    /// `delay=DUR`: wait before the response headers.
    Delay(Duration),
    /// `drip=MIN..MAX`: wait a seeded random time in the range before each event.
    Drip(Duration, Duration),
    /// `reset`: TCP RST instead of an answer.
    Reset,
    /// `blackhole`: after the request, never read or answer; keep the socket open.
    Blackhole,
    /// `malformed`: broken JSON body, or one broken event in a stream.
    Malformed,
    /// `oversize=BYTES`: a valid-looking body (or one event) padded to BYTES.
    Oversize(usize),
    /// `error-event[=N]`: after N events (default 2), the provider's in-stream error, then end.
    ErrorEvent(Option<usize>),
    /// `no-done`: a stream ends cleanly but without its terminator (`[DONE]`, `message_stop`).
    NoDone,
    /// `echo-key`: the error of a `status` or `error-event` fault repeats the request's key in
    /// its message and adds a `debug` member with the credentials header.
    EchoKey,
    /// `stall-upload[=BYTES]`: read BYTES of a multipart upload (default 16 KiB), then stop
    /// reading it; never answer.
    StallUpload(Option<usize>),
    /// `stall-download[=BYTES]`: send BYTES of the body (default half of it), then nothing,
    /// and stay open.
    StallDownload(Option<usize>),
    /// `cut-before-completed`: an event stream is aborted just before its final event (an
    /// image's `*.completed`, a transcript's or speech's `*.done`; before `[DONE]` the event
    /// ahead of it).
    CutBeforeCompleted,
    /// `moderation-blocked`: the safety system's refusal (400, worded for the request's model).
    ModerationBlocked,
    /// `task-fail`: a video task chosen at submit ends failed, in the provider's shape.
    TaskFail,
    /// `task-stuck`: a video task never leaves its running state.
    TaskStuck,
    /// `task-expire`: a video task's results answer 404/403 (expired links) once completed.
    TaskExpire,
    /// `poll-malformed`: the polls of a video task answer bodies that are not JSON.
    PollMalformed,
    /// `callback-delay=DUR`: each callback of a video task is sent DUR late.
    CallbackDelay(Duration),
    /// `callback-dup`: each callback of a video task is sent twice.
    CallbackDup,
    /// `callback-never`: a video task sends no callbacks.
    CallbackNever,
    /// `content-cut=N`: a video task's result downloads end (connection aborted) after N bytes.
    ContentCut(usize),
    /// `run=DUR`: a video task runs exactly DUR (no jitter).
    TaskRun(Duration),
}

/// A bad fault spec.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultError {
    #[error("unknown fault `{0}` (known: status, retry-after, truncate, cut, stall-headers, stall-after, delay, drip, reset, blackhole, malformed, oversize, error-event, no-done, echo-key, stall-upload, stall-download, cut-before-completed, moderation-blocked, task-fail, task-stuck, task-expire, poll-malformed, callback-delay, callback-dup, callback-never, content-cut, run, none)")]
    Unknown(String),
    #[error("fault `{name}` needs a value: {expected}")]
    MissingValue {
        name: String,
        expected: &'static str,
    },
    #[error("fault `{name}` takes no value, got `{value}`")]
    UnexpectedValue { name: String, value: String },
    #[error("fault `{name}`: bad value `{value}`: expected {expected}")]
    BadValue {
        name: String,
        value: String,
        expected: &'static str,
    },
    #[error("fault mix entry `{0}`: expected FAULT:PERCENT% (e.g. `status=429:5%`)")]
    BadMixEntry(String),
    #[error("fault mix percentages add up to {0}%, more than 100%")]
    MixOver100(f64),
}

/// The faults of one request (possibly none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultSet(pub Vec<Fault>);

impl FaultSet {
    /// Parses `FAULT[, FAULT...]`; `none`/`ok`/empty give no fault.
    pub fn parse(text: &str) -> Result<FaultSet, FaultError> {
        let mut out = Vec::new();
        for item in text
            .split([',', '+'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if let Some(f) = parse_one(item)? {
                out.push(f);
            }
        }
        Ok(FaultSet(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn find<T>(&self, f: impl FnMut(&Fault) -> Option<T>) -> Option<T> {
        self.0.iter().find_map(f)
    }

    pub(crate) fn has(&self, fault: &Fault) -> bool {
        self.0.contains(fault)
    }
}

fn parse_one(item: &str) -> Result<Option<Fault>, FaultError> {
    let (name, value) = match item.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (item, None),
    };
    let name_s = name.to_owned();
    let need = |expected: &'static str| {
        value.ok_or(FaultError::MissingValue {
            name: name_s.clone(),
            expected,
        })
    };
    let none = |f: Fault| match value {
        None => Ok(Some(f)),
        Some(v) => Err(FaultError::UnexpectedValue {
            name: name_s.clone(),
            value: v.to_owned(),
        }),
    };
    let bad = |v: &str, expected: &'static str| FaultError::BadValue {
        name: name_s.clone(),
        value: v.to_owned(),
        expected,
    };
    let count = |v: &str| v.parse::<usize>().map_err(|_| bad(v, "a whole number"));
    let size = |v: &str| bytes(v).ok_or_else(|| bad(v, "a size like 65536, 64KiB or 1MiB"));
    let dur =
        |v: &str| humantime::parse_duration(v).map_err(|_| bad(v, "a duration like 250ms or 2s"));
    Ok(match name {
        "none" | "ok" => match value {
            None => None,
            Some(v) => {
                return Err(FaultError::UnexpectedValue {
                    name: name_s.clone(),
                    value: v.to_owned(),
                })
            }
        },
        "status" => {
            let v = need("an HTTP status 400..=599")?;
            match v.parse::<u16>() {
                Ok(code @ 400..=599) => Some(Fault::Status(code)),
                _ => return Err(bad(v, "an HTTP status 400..=599")),
            }
        }
        "retry-after" => {
            let v = need("seconds")?;
            Some(Fault::RetryAfter(
                v.parse().map_err(|_| bad(v, "whole seconds"))?,
            ))
        }
        "truncate" => Some(Fault::Truncate(count(need("a byte count")?)?)),
        "cut" => Some(Fault::Cut(count(need("an event count")?)?)),
        "stall-after" => Some(Fault::StallAfter(count(need("an event count")?)?)),
        "oversize" => Some(Fault::Oversize(
            bytes(need("a size like 65536 or 64KiB")?)
                .ok_or_else(|| bad(value.unwrap_or(""), "a size like 65536, 64KiB or 1MiB"))?,
        )),
        "delay" => Some(Fault::Delay(dur(need("a duration like 250ms")?)?)),
        "stall-headers" => Some(Fault::StallHeaders(value.map(dur).transpose()?)),
        "error-event" => Some(Fault::ErrorEvent(value.map(count).transpose()?)),
        "stall-upload" => Some(Fault::StallUpload(value.map(size).transpose()?)),
        "stall-download" => Some(Fault::StallDownload(value.map(size).transpose()?)),
        "cut-before-completed" => return none(Fault::CutBeforeCompleted),
        "moderation-blocked" => return none(Fault::ModerationBlocked),
        "drip" => {
            let v = need("a range like 2ms..5ms")?;
            let (lo, hi) = match v.split_once("..") {
                Some((lo, hi)) => (dur(lo.trim())?, dur(hi.trim_start_matches('=').trim())?),
                None => (dur(v)?, dur(v)?),
            };
            if lo > hi {
                return Err(bad(v, "MIN..MAX with MIN <= MAX"));
            }
            Some(Fault::Drip(lo, hi))
        }
        "task-fail" => return none(Fault::TaskFail),
        "task-stuck" => return none(Fault::TaskStuck),
        "task-expire" => return none(Fault::TaskExpire),
        "poll-malformed" => return none(Fault::PollMalformed),
        "callback-dup" => return none(Fault::CallbackDup),
        "callback-never" => return none(Fault::CallbackNever),
        "callback-delay" => Some(Fault::CallbackDelay(dur(need("a duration like 250ms")?)?)),
        "content-cut" => Some(Fault::ContentCut(count(need("a byte count")?)?)),
        "run" => Some(Fault::TaskRun(dur(need("a duration like 2s")?)?)),
        "reset" => return none(Fault::Reset),
        "blackhole" => return none(Fault::Blackhole),
        "malformed" => return none(Fault::Malformed),
        "no-done" => return none(Fault::NoDone),
        "echo-key" => return none(Fault::EchoKey),
        other => return Err(FaultError::Unknown(other.to_owned())),
    })
}

/// `65536`, `64KiB`, `64k`, `1MiB`, `1m`.
fn bytes(v: &str) -> Option<usize> {
    let lower = v.to_ascii_lowercase();
    let (num, mult) = [
        ("kib", 1024),
        ("mib", 1 << 20),
        ("kb", 1000),
        ("mb", 1_000_000),
        ("k", 1024),
        ("m", 1 << 20),
    ]
    .iter()
    .find_map(|(suffix, m)| {
        lower
            .strip_suffix(suffix)
            .map(|n| (n.trim().to_owned(), *m))
    })
    .unwrap_or((lower.clone(), 1));
    num.parse::<usize>().ok()?.checked_mul(mult)
}

impl Fault {
    /// The stats key of this fault kind (`status=429`, `truncate`, `drip`...).
    pub fn kind(&self) -> String {
        match self {
            Fault::Status(c) => format!("status={c}"),
            Fault::RetryAfter(_) => "retry-after".into(),
            Fault::Truncate(_) => "truncate".into(),
            Fault::Cut(_) => "cut".into(),
            Fault::StallHeaders(_) => "stall-headers".into(),
            Fault::StallAfter(_) => "stall-after".into(),
            Fault::Delay(_) => "delay".into(),
            Fault::Drip(..) => "drip".into(),
            Fault::Reset => "reset".into(),
            Fault::Blackhole => "blackhole".into(),
            Fault::Malformed => "malformed".into(),
            Fault::Oversize(_) => "oversize".into(),
            Fault::ErrorEvent(_) => "error-event".into(),
            Fault::NoDone => "no-done".into(),
            Fault::EchoKey => "echo-key".into(),
            Fault::StallUpload(_) => "stall-upload".into(),
            Fault::StallDownload(_) => "stall-download".into(),
            Fault::CutBeforeCompleted => "cut-before-completed".into(),
            Fault::ModerationBlocked => "moderation-blocked".into(),
            Fault::TaskFail => "task-fail".into(),
            Fault::TaskStuck => "task-stuck".into(),
            Fault::TaskExpire => "task-expire".into(),
            Fault::PollMalformed => "poll-malformed".into(),
            Fault::CallbackDelay(_) => "callback-delay".into(),
            Fault::CallbackDup => "callback-dup".into(),
            Fault::CallbackNever => "callback-never".into(),
            Fault::ContentCut(_) => "content-cut".into(),
            Fault::TaskRun(_) => "run".into(),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |d: &Duration| humantime::format_duration(*d).to_string();
        match self {
            Fault::RetryAfter(s) => write!(f, "retry-after={s}"),
            Fault::Truncate(n) => write!(f, "truncate={n}"),
            Fault::Cut(n) => write!(f, "cut={n}"),
            Fault::StallHeaders(Some(t)) => write!(f, "stall-headers={}", d(t)),
            Fault::StallAfter(n) => write!(f, "stall-after={n}"),
            Fault::Delay(t) => write!(f, "delay={}", d(t)),
            Fault::Drip(a, b) => write!(f, "drip={}..{}", d(a), d(b)),
            Fault::Oversize(n) => write!(f, "oversize={n}"),
            Fault::ErrorEvent(Some(n)) => write!(f, "error-event={n}"),
            Fault::StallUpload(Some(n)) => write!(f, "stall-upload={n}"),
            Fault::StallDownload(Some(n)) => write!(f, "stall-download={n}"),
            Fault::CallbackDelay(t) => write!(f, "callback-delay={}", d(t)),
            Fault::ContentCut(n) => write!(f, "content-cut={n}"),
            Fault::TaskRun(t) => write!(f, "run={}", d(t)),
            other => f.write_str(&other.kind()),
        }
    }
}

impl fmt::Display for FaultSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_every_fault() {
        let s = FaultSet::parse(
            "status=429, retry-after=0, truncate=10, cut=3, stall-headers, stall-headers=5ms, stall-after=2, \
             delay=1s, drip=2ms..5ms, reset, blackhole, malformed, oversize=64KiB, error-event, error-event=4, no-done, echo-key, \
             stall-upload, stall-upload=1KiB, stall-download=10, cut-before-completed, moderation-blocked",
        )
        .unwrap();
        assert_eq!(
            s.0,
            vec![
                Fault::Status(429),
                Fault::RetryAfter(0),
                Fault::Truncate(10),
                Fault::Cut(3),
                Fault::StallHeaders(None),
                Fault::StallHeaders(Some(ms(5))),
                Fault::StallAfter(2),
                Fault::Delay(ms(1000)),
                Fault::Drip(ms(2), ms(5)),
                Fault::Reset,
                Fault::Blackhole,
                Fault::Malformed,
                Fault::Oversize(65536),
                Fault::ErrorEvent(None),
                Fault::ErrorEvent(Some(4)),
                Fault::NoDone,
                Fault::EchoKey,
                Fault::StallUpload(None),
                Fault::StallUpload(Some(1024)),
                Fault::StallDownload(Some(10)),
                Fault::CutBeforeCompleted,
                Fault::ModerationBlocked,
            ]
        );
        assert_eq!(
            FaultSet::parse("drip=3ms").unwrap().0,
            vec![Fault::Drip(ms(3), ms(3))]
        );
        assert!(FaultSet::parse("none").unwrap().is_empty());
        assert!(FaultSet::parse("").unwrap().is_empty());
        assert_eq!(FaultSet::parse("cut=1+reset").unwrap().0.len(), 2);
    }

    #[test]
    fn parses_task_faults() {
        let s = FaultSet::parse(
            "task-fail, task-stuck, task-expire, poll-malformed, callback-delay=50ms, callback-dup, callback-never, content-cut=100, run=2s",
        )
        .unwrap();
        assert_eq!(
            s.0,
            vec![
                Fault::TaskFail,
                Fault::TaskStuck,
                Fault::TaskExpire,
                Fault::PollMalformed,
                Fault::CallbackDelay(ms(50)),
                Fault::CallbackDup,
                Fault::CallbackNever,
                Fault::ContentCut(100),
                Fault::TaskRun(ms(2000)),
            ]
        );
        assert_eq!(FaultSet::parse(&s.to_string()).unwrap(), s);
        assert!(FaultSet::parse("content-cut").is_err());
        assert!(FaultSet::parse("task-fail=1").is_err());
    }

    #[test]
    fn clear_errors() {
        let err = |s: &str| FaultSet::parse(s).unwrap_err().to_string();
        assert!(err("stauts=429").contains("unknown fault `stauts`"));
        assert!(err("status=200").contains("400..=599"));
        assert!(err("status").contains("needs a value"));
        assert!(err("reset=1").contains("takes no value"));
        assert!(err("drip=5ms..2ms").contains("MIN <= MAX"));
        assert!(err("delay=soon").contains("duration"));
        assert!(err("oversize=big").contains("size"));
    }

    #[test]
    fn display_round_trips() {
        let text = "status=503, drip=2ms..5ms, cut=3, error-event, echo-key";
        let s = FaultSet::parse(text).unwrap();
        assert_eq!(FaultSet::parse(&s.to_string()).unwrap(), s);
    }
}
