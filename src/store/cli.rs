//! `sluice token create|list|show|update|revoke` and `sluice migrate [--check]`: the store
//! from the command line, straight to the database (other instances follow within
//! `store.revision_poll`).
//!
//! Owns: the subcommands' arguments, reading `[store]` from a config file (nothing else of
//! it is needed or checked), and printing results (a table, or `--json`).
//! Must never: print a token key except once, at creation.

use super::usage::query::parse_time;
use super::{now_ms, NewToken, Store, StoreError, Token, TokenPatch, TokenSpec};
use crate::config::StoreConfig;
use clap::{Args, Subcommand};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where the store is: `[store]` of this config file, or the defaults.
#[derive(Args, Clone, Debug)]
pub struct StoreLocation {
    /// Config file whose `[store]` section names the database (default: SQLite under
    /// ./sluice-data).
    #[arg(long, short, env = "SLUICE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    #[command(flatten)]
    pub location: StoreLocation,
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token; its key is printed once.
    Create {
        /// A name for logs and usage reports (unique among live tokens).
        name: String,
        #[command(flatten)]
        fields: TokenFields,
    },
    /// List live tokens (`--all`: revoked ones too).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Show one token by id or name.
    Show { token: String },
    /// Change a token's fields.
    Update {
        /// Id or name.
        token: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: TokenFields,
        /// Remove the expiry.
        #[arg(long)]
        no_expiry: bool,
        /// Remove the quota (unlimited).
        #[arg(long)]
        no_quota: bool,
        /// Allow every model.
        #[arg(long)]
        all_models: bool,
        /// Allow every client address.
        #[arg(long)]
        any_ip: bool,
        /// Remove the requests-per-minute limit.
        #[arg(long)]
        no_rpm: bool,
        /// Remove the tokens-per-minute limit.
        #[arg(long)]
        no_tpm: bool,
        /// Enable the token.
        #[arg(long, conflicts_with = "disabled")]
        enabled: bool,
    },
    /// Revoke a token for good.
    Revoke { token: String },
}

#[derive(Args, Debug, Default)]
pub struct TokenFields {
    /// Expiry: a duration from now (`30d`, `12h`), a day (`2026-12-31`), RFC 3339 or Unix ms.
    #[arg(long)]
    pub expires: Option<String>,
    /// Quota in cost units (millionths of a currency unit: 5000000 = 5.00).
    #[arg(long)]
    pub quota: Option<i64>,
    /// Model globs this token may use (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub models: Option<Vec<String>>,
    /// Client IPs or CIDRs this token may be used from (comma-separated).
    #[arg(long = "allow-ip", value_delimiter = ',')]
    pub allow_ips: Option<Vec<String>>,
    /// Requests per minute.
    #[arg(long)]
    pub rpm: Option<u32>,
    /// Tokens (prompt + completion) per minute.
    #[arg(long)]
    pub tpm: Option<u64>,
    /// The window `--rpm` and `--tpm` count over instead of a minute (`10s`, `1h`).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub rate_window: Option<std::time::Duration>,
    /// Create or set the token disabled.
    #[arg(long)]
    pub disabled: bool,
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub location: StoreLocation,
    /// Report applied, pending and unknown migrations without changing anything; exit 1
    /// unless the schema is up to date.
    #[arg(long)]
    pub check: bool,
}

#[derive(Deserialize)]
struct OnlyStore {
    #[serde(default)]
    store: StoreConfig,
}

/// The `[store]` section of a config file (the rest of the file is not read).
pub fn store_config(path: Option<&Path>) -> Result<StoreConfig, StoreError> {
    let Some(path) = path else {
        return Ok(StoreConfig::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| StoreError::io(path, e))?;
    let parsed: OnlyStore = toml::from_str(&text)
        .map_err(|e| StoreError::Invalid(format!("{}: {e}", path.display())))?;
    parsed.store.validate()?;
    Ok(parsed.store)
}

fn expiry(text: &str) -> Result<i64, StoreError> {
    if let Ok(d) = humantime::parse_duration(text) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        return Ok(now_ms().saturating_add(ms));
    }
    parse_time(text)
}

fn spec(name: String, f: &TokenFields) -> Result<TokenSpec, StoreError> {
    Ok(TokenSpec {
        name,
        expires_at: f.expires.as_deref().map(expiry).transpose()?,
        quota_limit: f.quota,
        models: f.models.clone(),
        allow_ips: f.allow_ips.clone(),
        rpm: f.rpm,
        tpm: f.tpm,
        rate_window: f.rate_window,
        enabled: !f.disabled,
    })
}

fn set<T>(value: Option<T>, clear: bool) -> Option<Option<T>> {
    if clear {
        Some(None)
    } else {
        value.map(Some)
    }
}

fn show(t: &Token) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    let state = if t.is_revoked() {
        "revoked"
    } else if t.enabled {
        "enabled"
    } else {
        "disabled"
    };
    format!(
        "{:<6} {:<24} {:<16} {:<8} {:<6} quota={} used={} requests={} expires={} models={} ips={} rpm={} tpm={} window={}",
        t.id,
        t.name,
        t.key_prefix,
        state,
        t.source.as_str(),
        opt(t.quota_limit.map(|q| q.to_string())),
        t.used_units,
        t.requests,
        opt(t.expires_at.map(|e| e.to_string())),
        opt(t.models.as_ref().map(|m| m.join(","))),
        opt(t.allow_ips.as_ref().map(|m| m.join(","))),
        opt(t.rpm.map(|v| v.to_string())),
        opt(t.tpm.map(|v| v.to_string())),
        opt(t.rate_window.map(|w| humantime::format_duration(w).to_string())),
    )
}

fn print_token(t: &Token, json: bool) {
    if json {
        println!("{}", serde_json::to_string(t).unwrap_or_default());
    } else {
        println!("{}", show(t));
    }
}

async fn token(args: TokenArgs) -> Result<(), StoreError> {
    let config = store_config(args.location.config.as_deref())?;
    let store = Store::open(&config).await?;
    let json = args.location.json;
    let result = match args.command {
        TokenCommand::Create { name, fields } => {
            let NewToken { token, key } = store.create_token(spec(name, &fields)?).await?;
            if json {
                let mut v = serde_json::to_value(&token).unwrap_or_default();
                v["key"] = serde_json::Value::from(key.expose());
                println!("{v}");
            } else {
                println!("{}", show(&token));
                println!("key: {}", key.expose());
                println!("(shown once: only its hash is stored)");
            }
            Ok(())
        }
        TokenCommand::List { all } => {
            for t in store.list_tokens(all).await? {
                print_token(&t, json);
            }
            Ok(())
        }
        TokenCommand::Show { token } => {
            print_token(&store.find_token(&token).await?, json);
            Ok(())
        }
        TokenCommand::Update {
            token,
            name,
            fields,
            no_expiry,
            no_quota,
            all_models,
            any_ip,
            no_rpm,
            no_tpm,
            enabled,
        } => {
            let id = store.find_token(&token).await?.id;
            let patch = TokenPatch {
                name,
                expires_at: set(
                    fields.expires.as_deref().map(expiry).transpose()?,
                    no_expiry,
                ),
                quota_limit: set(fields.quota, no_quota),
                models: set(fields.models, all_models),
                allow_ips: set(fields.allow_ips, any_ip),
                rpm: set(fields.rpm, no_rpm),
                tpm: set(fields.tpm, no_tpm),
                rate_window: fields.rate_window.map(Some),
                enabled: match (enabled, fields.disabled) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
            };
            print_token(&store.update_token(id, patch).await?, json);
            Ok(())
        }
        TokenCommand::Revoke { token } => {
            let id = store.find_token(&token).await?.id;
            print_token(&store.revoke_token(id).await?, json);
            Ok(())
        }
    };
    store.close().await;
    result
}

/// Runs `sluice token …`.
pub async fn run_token(args: TokenArgs) -> ExitCode {
    match token(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sluice: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `sluice migrate [--check]`.
pub async fn run_migrate(args: MigrateArgs) -> ExitCode {
    let result = async {
        let config = store_config(args.location.config.as_deref())?;
        if !args.check {
            let store = Store::open_with(&config, None).await?;
            store.close().await;
        }
        Store::migrate_check(&config).await
    }
    .await;
    match result {
        Ok(report) => {
            if args.location.json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                println!(
                    "{}: applied {:?}, pending {:?}, unknown {:?}, changed {:?}",
                    report.backend, report.applied, report.pending, report.unknown, report.changed
                );
            }
            if report.up_to_date() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("sluice: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Subcommand)]
    enum Top {
        Token(TokenArgs),
        Migrate(MigrateArgs),
    }

    #[test]
    fn arguments_parse_as_documented() {
        let cli = Cli::try_parse_from([
            "sluice",
            "token",
            "create",
            "team",
            "--quota",
            "5000000",
            "--models",
            "gpt-4o*,o1",
            "--allow-ip",
            "10.0.0.0/8",
            "--rpm",
            "60",
            "--expires",
            "30d",
        ])
        .unwrap();
        let Top::Token(TokenArgs {
            command: TokenCommand::Create { name, fields },
            ..
        }) = cli.command
        else {
            panic!("not create");
        };
        let s = spec(name, &fields).unwrap();
        assert_eq!(s.models.unwrap(), ["gpt-4o*", "o1"]);
        assert_eq!(
            (s.quota_limit, s.rpm, s.enabled),
            (Some(5_000_000), Some(60), true)
        );
        assert!(s.expires_at.unwrap() > now_ms() + 29 * 86_400_000);
        assert!(
            Cli::try_parse_from(["sluice", "token", "update", "x", "--enabled", "--disabled"])
                .is_err()
        );
        let cli = Cli::try_parse_from(["sluice", "migrate", "--check", "--json"]).unwrap();
        assert!(matches!(
            cli.command,
            Top::Migrate(MigrateArgs { check: true, .. })
        ));
    }

    #[test]
    fn only_the_store_section_of_a_config_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "listen = \"bogus\"\n[store]\ndata_dir = \"/srv/s\"\n",
        )
        .unwrap();
        assert_eq!(
            store_config(Some(&path)).unwrap().data_dir,
            PathBuf::from("/srv/s")
        );
        std::fs::write(&path, "[store]\nnope = 1\n").unwrap();
        assert!(store_config(Some(&path)).is_err());
        assert_eq!(
            store_config(None).unwrap().data_dir,
            PathBuf::from("sluice-data")
        );
    }
}
