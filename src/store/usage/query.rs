//! What `GET /api/usage` asks: filters, grouping, pages of ledger rows, and their answers.
//!
//! Owns: the query shapes, their validation, and the choice of source (the daily rollups when
//! the time range is whole UTC days, the ledger otherwise).
//! Must never: answer without a bound (summaries stop at `MAX_SUMMARY_ROWS`, pages at
//! `MAX_PAGE`).

use super::batch::day_of;
use crate::store::StoreError;
use serde::{Deserialize, Serialize};

pub const MAX_SUMMARY_ROWS: usize = 10_000;
pub const MAX_PAGE: usize = 1_000;
pub const DAY_MS: i64 = 86_400_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Day,
    Model,
    Token,
    Channel,
}

impl GroupBy {
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text.trim() {
            "day" => Ok(GroupBy::Day),
            "model" => Ok(GroupBy::Model),
            "token" => Ok(GroupBy::Token),
            "channel" => Ok(GroupBy::Channel),
            other => Err(StoreError::Invalid(format!(
                "group_by: `{other}` is not one of day, model, token, channel"
            ))),
        }
    }

    pub(crate) fn column(self) -> &'static str {
        match self {
            GroupBy::Day => "day",
            GroupBy::Model => "model",
            GroupBy::Token => "token_id",
            GroupBy::Channel => "channel",
        }
    }
}

/// Filters shared by summaries and pages. Times are Unix milliseconds, `from` inclusive,
/// `to` exclusive.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageFilter {
    pub token_id: Option<i64>,
    pub model: Option<String>,
    pub channel: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl UsageFilter {
    pub fn validate(&self) -> Result<(), StoreError> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(StoreError::Invalid("`from` is after `to`".to_owned()));
            }
        }
        Ok(())
    }

    /// The rollups answer exactly when the range is made of whole UTC days.
    pub(crate) fn whole_days(&self) -> bool {
        [self.from, self.to]
            .into_iter()
            .flatten()
            .all(|t| t.rem_euclid(DAY_MS) == 0)
    }

    pub(crate) fn first_day(&self) -> Option<String> {
        self.from.map(day_of)
    }

    pub(crate) fn end_day(&self) -> Option<String> {
        self.to.map(day_of)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageQuery {
    pub filter: UsageFilter,
    /// Empty: one row with the totals.
    pub group_by: Vec<GroupBy>,
}

impl UsageQuery {
    pub fn validate(&self) -> Result<(), StoreError> {
        self.filter.validate()?;
        let mut seen = Vec::new();
        for g in &self.group_by {
            if seen.contains(g) {
                return Err(StoreError::Invalid(format!(
                    "group_by lists `{}` twice",
                    g.column()
                )));
            }
            seen.push(*g);
        }
        Ok(())
    }
}

/// One summary row; the keys not grouped by are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct UsageSummary {
    pub day: Option<String>,
    pub token_id: Option<i64>,
    pub model: Option<String>,
    pub channel: Option<String>,
    pub requests: i64,
    pub errors: i64,
    pub estimated: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub images: i64,
    pub characters: i64,
    pub audio_ms: i64,
    pub video_ms: i64,
    pub cost_units: i64,
}

/// Where a page of ledger rows starts: after this `(created_at, usage_id)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: i64,
    pub usage_id: uuid::Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.created_at, self.usage_id.simple())
    }

    pub fn decode(text: &str) -> Result<Self, StoreError> {
        let bad = || StoreError::Invalid(format!("cursor `{text}` is not valid"));
        let (at, id) = text.split_once('_').ok_or_else(bad)?;
        Ok(Self {
            created_at: at.parse().map_err(|_| bad())?,
            usage_id: uuid::Uuid::parse_str(id).map_err(|_| bad())?,
        })
    }
}

/// A time in a query: Unix milliseconds, a UTC day (`2026-01-31`, its midnight) or RFC 3339.
pub fn parse_time(text: &str) -> Result<i64, StoreError> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let bad = || {
        StoreError::Invalid(format!(
            "`{text}` is not a time (Unix milliseconds, YYYY-MM-DD or RFC 3339)"
        ))
    };
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(day) = time::Date::parse(text, fmt) {
        let secs = day.midnight().assume_utc().unix_timestamp();
        return Ok(secs * 1000);
    }
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| bad())?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_three_forms() {
        assert_eq!(parse_time("1700000000000").unwrap(), 1_700_000_000_000);
        assert_eq!(parse_time("1970-01-02").unwrap(), DAY_MS);
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z").unwrap(), 1500);
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00").unwrap(), 0);
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn whole_days_pick_the_rollups() {
        let mut f = UsageFilter::default();
        assert!(f.whole_days());
        f.from = Some(3 * DAY_MS);
        f.to = Some(5 * DAY_MS);
        assert!(f.whole_days());
        assert_eq!(f.first_day().unwrap(), "1970-01-04");
        f.to = Some(5 * DAY_MS + 1);
        assert!(!f.whole_days());
    }

    #[test]
    fn queries_are_checked() {
        assert!(GroupBy::parse("week").is_err());
        let q = UsageQuery {
            group_by: vec![GroupBy::Day, GroupBy::Day],
            ..UsageQuery::default()
        };
        assert!(q.validate().is_err());
        let f = UsageFilter {
            from: Some(10),
            to: Some(5),
            ..UsageFilter::default()
        };
        assert!(f.validate().is_err());
    }

    #[test]
    fn cursors_round_trip() {
        let c = Cursor {
            created_at: 1234,
            usage_id: uuid::Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("x").is_err());
    }
}
