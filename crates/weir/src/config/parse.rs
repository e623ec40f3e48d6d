//! What the declaration in `options.rs` is made of: the check that names an
//! option in its errors, one parser per kind of value, and [`Show`], which
//! renders a default for `--help` and the README.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use secrecy::SecretString;
use serde::Deserialize;
use weir_core::MasterKey;
use weir_store::DatabaseUrl;

use super::{ConfigError, InstanceRole, LogFormat, OPTIONS, RedactedUrl};

/// Accepts a TOML string, integer, float or boolean as text, so the file
/// can say `max_body_bytes = 1048576` or `"1048576"` alike.
pub(super) fn stringish<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<toml::Value>::deserialize(d)?;
    Ok(v.map(|v| match v {
        toml::Value::String(s) => s,
        other => other.to_string(),
    }))
}

/// One option's raw value (an empty one counts as unset), with the names
/// its errors give.
pub(super) struct Check<'a> {
    option: &'static str,
    env: &'static str,
    pub(super) value: Option<&'a str>,
}

impl<'a> Check<'a> {
    pub(super) fn new(option: &'static str, env: &'static str, value: Option<&'a str>) -> Self {
        Check { option, env, value: value.filter(|v| !v.is_empty()) }
    }

    /// The check of `option` without a value, for errors found after parsing.
    pub(super) fn of(option: &'static str) -> Self {
        let env = OPTIONS.iter().find(|(o, _, _)| *o == option).map_or("WEIR_?", |(_, e, _)| *e);
        Check::new(option, env, None)
    }

    pub(super) fn fail(&self, reason: impl fmt::Display) -> ConfigError {
        ConfigError::Invalid {
            option: self.option,
            env: self.env,
            flag: self.option.replace('_', "-"),
            reason: reason.to_string(),
        }
    }

    /// Refuses `x` outside `lo..=hi`.
    pub(super) fn within<T: PartialOrd + fmt::Display>(&self, x: &T, lo: T, hi: T) -> Result<(), ConfigError> {
        if lo <= *x && *x <= hi { Ok(()) } else { Err(self.fail(format!("{x} is outside {lo}..={hi}"))) }
    }
}

/// `--help` text: the meaning and the default, Markdown taken out; a
/// default shown as `—` (nothing) is left out.
pub(super) fn help_text(doc: &str, default: &str) -> String {
    match default {
        "—" => plain(doc.trim()),
        _ => format!("{} [default: {}]", plain(doc.trim()), plain(default)),
    }
}

/// Drops backticks and turns `[text](target)` into `text`.
fn plain(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut rest = md;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find("](").and_then(|mid| after[mid..].find(')').map(|end| (mid, mid + end))) {
            Some((mid, end)) => {
                out.push_str(&after[..mid]);
                rest = &after[end + 1..];
            }
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace('`', "")
}

/// A default as `--help` and the README show it (what one would type).
pub(super) trait Show {
    fn show(&self) -> String;
}

macro_rules! show_display {
    ($($t:ty),*) => { $( impl Show for $t { fn show(&self) -> String { self.to_string() } } )* };
}
show_display!(u32, u64, usize, bool, String, SocketAddr);

impl Show for PathBuf {
    fn show(&self) -> String {
        self.display().to_string()
    }
}

impl Show for Vec<Duration> {
    fn show(&self) -> String {
        let one = |d: &Duration| match d.subsec_nanos() {
            0 => format!("{}s", d.as_secs()),
            _ => format!("{}ms", d.as_millis()),
        };
        self.iter().map(one).collect::<Vec<_>>().join(",")
    }
}

/// SQLite durability (`sqlite_synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SqliteSync {
    /// fsync on every commit.
    Full,
    /// WAL, synced at checkpoints.
    Normal,
}

/// Enums named by a fixed word each; `fold` accepts any letter case.
macro_rules! named {
    ($t:ty, fold = $fold:literal, $parse:ident: $($name:literal => $v:expr),*) => {
        impl Show for $t {
            fn show(&self) -> String {
                [$(($name, $v)),*].iter().find(|(_, v)| v == self).map_or_else(String::new, |(n, _)| (*n).to_owned())
            }
        }

        pub(super) fn $parse(v: &str) -> Result<$t, String> {
            choose(v, $fold, &[$(($name, $v)),*])
        }
    };
}
named!(InstanceRole, fold = false, role: "api" => InstanceRole::Api, "worker" => InstanceRole::Worker,
    "scheduler" => InstanceRole::Scheduler, "all" => InstanceRole::All);
named!(LogFormat, fold = false, log_format: "text" => LogFormat::Text, "json" => LogFormat::Json);
named!(SqliteSync, fold = true, sqlite_sync: "full" => SqliteSync::Full, "normal" => SqliteSync::Normal);

fn choose<T: Copy>(v: &str, fold: bool, names: &[(&str, T)]) -> Result<T, String> {
    let key = if fold { v.trim().to_ascii_lowercase() } else { v.trim().to_owned() };
    if let Some((_, t)) = names.iter().find(|(n, _)| *n == key) {
        return Ok(*t);
    }
    let words: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
    let (last, init) = words.split_last().map_or(("", &[][..]), |(l, i)| (*l, i));
    Err(format!("{key:?}: use {} or {last}", init.join(", ")))
}

/// Any `FromStr` number (or other value), the error quoting the input.
pub(super) fn number<T: std::str::FromStr>(v: &str) -> Result<T, String>
where
    T::Err: fmt::Display,
{
    v.trim().parse().map_err(|e: T::Err| format!("{v:?}: {e}"))
}

pub(super) fn socket_addr(v: &str) -> Result<SocketAddr, String> {
    v.trim().parse().map_err(|_| format!("{v:?} is not host:port, e.g. 127.0.0.1:8080"))
}

/// Taken as given (not trimmed).
pub(super) fn path(v: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(v))
}

/// A path taken as given; empty means none.
pub(super) fn optional_path(v: &str) -> Result<Option<PathBuf>, String> {
    Ok((!v.is_empty()).then(|| PathBuf::from(v)))
}

/// Taken as given (not trimmed).
pub(super) fn text(v: &str) -> Result<String, String> {
    Ok(v.to_owned())
}

/// A true/false option (also 1/0, yes/no).
pub(super) fn flag(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "false" | "0" | "no" => Ok(false),
        "true" | "1" | "yes" => Ok(true),
        other => Err(format!("{other:?}: use true or false")),
    }
}

/// A comma-separated list of delays (`10s,60s` or `50ms,100ms`), each above
/// zero and at most 7 days.
pub(super) fn durations(v: &str) -> Result<Vec<Duration>, String> {
    let list = v
        .split(',')
        .map(|d| humantime::parse_duration(d.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{v:?}: {e} (use e.g. 10s,60s,300s)"))?;
    if list.is_empty() || list.iter().any(|d| d.is_zero() || *d > Duration::from_secs(7 * 24 * 3600)) {
        return Err("every delay must be above 0 and at most 7 days".into());
    }
    Ok(list)
}

pub(super) fn database_url(v: &str) -> Result<Option<DatabaseUrl>, String> {
    DatabaseUrl::parse(v).map(Some).map_err(|e| e.to_string())
}

/// 24 to 512 characters, surrounding blanks dropped.
pub(super) fn system_token(v: &str) -> Result<Option<SecretString>, String> {
    match v.trim().len() {
        n if n < 24 => Err("must be at least 24 characters".into()),
        n if n > 512 => Err("must be at most 512 characters".into()),
        _ => Ok(Some(SecretString::from(v.trim().to_owned()))),
    }
}

pub(super) fn master_key(v: &str) -> Result<Option<MasterKey>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .map_err(|_| "must be base64 (e.g. `openssl rand -base64 32`)".to_owned())?;
    let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| format!("must decode to 32 bytes, got {}", b.len()))?;
    Ok(Some(MasterKey::from_bytes(key)))
}

/// `http://` or `https://` with a host.
pub(super) fn proxy_url(v: &str) -> Result<Option<url::Url>, String> {
    let u = url::Url::parse(v.trim()).map_err(|_| "is not a URL".to_owned())?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err("must be http://host:port or https://host:port".into());
    }
    Ok(Some(u))
}

/// `redis://` or `rediss://`; the password is redacted for `Debug`.
pub(super) fn redis_url(v: &str) -> Result<Option<RedactedUrl>, String> {
    let u = url::Url::parse(v.trim()).map_err(|_| "is not a URL".to_owned())?;
    if !matches!(u.scheme(), "redis" | "rediss") {
        return Err("must start with redis:// or rediss://".into());
    }
    let redacted = weir_core::redact::redact_password(&u);
    Ok(Some(RedactedUrl { url: SecretString::from(v.trim().to_owned()), redacted }))
}
