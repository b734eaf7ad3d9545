//! The `[monitor]` section: how often the relay samples itself, the thresholds that make it
//! warn or go critical. (Who may read the monitor endpoints is the top-level `admin_token` and
//! `admin_listen`: see `server::access`.)
//!
//! Owns: defaults and validation of the monitor's settings (validated while parsing, so a bad
//! `[monitor]` section fails `Config::parse` with the key named).
//! Must never: hold runtime state.

use serde::Deserialize;
use std::time::Duration;

/// `[monitor]`. Every key has a default.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "MonitorToml")]
pub struct MonitorConfig {
    /// How often the sampler reads the gauges (and logs one line).
    pub interval: Duration,
    /// How far back the trend (growth per minute) looks.
    pub window: Duration,
    /// How often an alert that lasts is logged again.
    pub alert_repeat: Duration,
    pub thresholds: Thresholds,
}

/// Warn and critical levels per watched gauge, and the growth per minute over the window above
/// which the gauge counts as "keeps growing". `growth_per_minute` defaults to `warn / 100`: a
/// growth that would reach the warn level from zero within 100 minutes.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(from = "LevelToml")]
pub struct Level {
    pub warn: u64,
    pub critical: u64,
    pub growth_per_minute: f64,
}

impl Level {
    pub fn new(warn: u64, critical: u64) -> Self {
        Self {
            warn,
            critical,
            growth_per_minute: warn as f64 / 100.0,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelToml {
    warn: u64,
    critical: u64,
    growth_per_minute: Option<f64>,
}

impl From<LevelToml> for Level {
    fn from(t: LevelToml) -> Self {
        let mut level = Level::new(t.warn, t.critical);
        if let Some(g) = t.growth_per_minute {
            level.growth_per_minute = g;
        }
        level
    }
}

/// `[monitor.thresholds]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    pub live_tasks: Level,
    pub inbound_connections: Level,
    pub upstream_connections: Level,
    pub open_fds: Level,
    pub resident_memory_bytes: Level,
}

const GIB: u64 = 1024 * 1024 * 1024;

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            live_tasks: Level::new(3000, 5000),
            inbound_connections: Level::new(2000, 4000),
            upstream_connections: Level::new(2000, 4000),
            open_fds: Level::new(5000, 10000),
            resident_memory_bytes: Level::new(GIB, 2 * GIB),
        }
    }
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            window: Duration::from_secs(600),
            alert_repeat: Duration::from_secs(300),
            thresholds: Thresholds::default(),
        }
    }
}

/// The TOML shape, checked into a [`MonitorConfig`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct MonitorToml {
    #[serde(with = "humantime_serde")]
    interval: Duration,
    #[serde(with = "humantime_serde")]
    window: Duration,
    #[serde(with = "humantime_serde")]
    alert_repeat: Duration,
    thresholds: Thresholds,
}

impl Default for MonitorToml {
    fn default() -> Self {
        let d = MonitorConfig::default();
        Self {
            interval: d.interval,
            window: d.window,
            alert_repeat: d.alert_repeat,
            thresholds: d.thresholds,
        }
    }
}

impl TryFrom<MonitorToml> for MonitorConfig {
    type Error = String;

    fn try_from(t: MonitorToml) -> Result<Self, String> {
        if t.interval.is_zero() {
            return Err("monitor.interval must be above 0".to_owned());
        }
        if t.window < t.interval {
            return Err("monitor.window must be at least monitor.interval".to_owned());
        }
        if t.alert_repeat.is_zero() {
            return Err("monitor.alert_repeat must be above 0".to_owned());
        }
        let th = &t.thresholds;
        let levels = [
            ("live_tasks", th.live_tasks),
            ("inbound_connections", th.inbound_connections),
            ("upstream_connections", th.upstream_connections),
            ("open_fds", th.open_fds),
            ("resident_memory_bytes", th.resident_memory_bytes),
        ];
        for (name, l) in levels {
            if l.warn > l.critical {
                return Err(format!(
                    "monitor.thresholds.{name}: warn ({}) is above critical ({})",
                    l.warn, l.critical
                ));
            }
            if !(l.growth_per_minute.is_finite() && l.growth_per_minute >= 0.0) {
                return Err(format!(
                    "monitor.thresholds.{name}.growth_per_minute must be a number >= 0"
                ));
            }
        }
        Ok(Self {
            interval: t.interval,
            window: t.window,
            alert_repeat: t.alert_repeat,
            thresholds: t.thresholds,
        })
    }
}

impl MonitorConfig {
    /// How many samples the trend window holds (at least 2).
    pub fn ring_capacity(&self) -> usize {
        let n = self.window.as_secs_f64() / self.interval.as_secs_f64();
        // Bounded: a window of a day at 1 ms would still be capped here.
        (n.ceil() as usize).saturating_add(1).clamp(2, 100_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MonitorConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn defaults_apply_to_an_empty_section() {
        let c = parse("").unwrap();
        assert_eq!(c.interval, Duration::from_secs(30));
        assert_eq!(c.window, Duration::from_secs(600));
        assert_eq!(c.thresholds.live_tasks.warn, 3000);
        assert_eq!(c.thresholds.live_tasks.critical, 5000);
        assert_eq!(c.thresholds.resident_memory_bytes.critical, 2 * GIB);
        assert_eq!(c.ring_capacity(), 21);
    }

    #[test]
    fn parses_humantime_and_thresholds() {
        let c = parse(
            r#"
            interval = "5s"
            window = "1m"
            [thresholds]
            live_tasks = { warn = 10, critical = 20, growth_per_minute = 1.5 }
            open_fds = { warn = 5000, critical = 6000 }
            "#,
        )
        .unwrap();
        assert_eq!(c.interval, Duration::from_secs(5));
        let tasks = c.thresholds.live_tasks;
        assert_eq!(
            (tasks.warn, tasks.critical, tasks.growth_per_minute),
            (10, 20, 1.5)
        );
        assert_eq!(c.thresholds.open_fds.warn, 5000);
        assert_eq!(c.thresholds.open_fds.growth_per_minute, 50.0);
    }

    #[test]
    fn is_a_section_of_the_whole_config() {
        let base = "[[tokens]]\nkey = \"sk-client\"\n";
        let c = crate::config::Config::parse(base).unwrap();
        assert_eq!(c.monitor.interval, Duration::from_secs(30));
        let c = crate::config::Config::parse(&format!(
            "{base}[monitor]\ninterval = \"10s\"\n[monitor.thresholds]\nopen_fds = {{ warn = 1, critical = 2 }}\n"
        ))
        .unwrap();
        assert_eq!(c.monitor.interval, Duration::from_secs(10));
        assert_eq!(c.monitor.thresholds.open_fds.critical, 2);
        let err = crate::config::Config::parse(&format!("{base}[monitor]\nwindow = \"1s\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("monitor.window"), "{err}");
    }

    #[test]
    fn rejects_bad_values_and_unknown_keys() {
        for bad in [
            r#"interval = "0s""#,
            r#"interval = "1m"
               window = "30s""#,
            r#"intervall = "1s""#,
            r#"admin_token = "one token for all admin surfaces is at the top level""#,
            "[thresholds]\nopen_fds = { warn = 10, critical = 5 }",
            "[thresholds]\nopen_fds = { warn = 10 }",
            "[thresholds]\nopen_fds = { warn = 1, critical = 5, growth_per_minute = -1.0 }",
        ] {
            assert!(parse(bad).is_err(), "accepted: {bad}");
        }
    }
}
