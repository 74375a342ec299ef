//! Argument types shared by subcommands: durations, points in time, output formats.

use time::OffsetDateTime;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// For people.
    #[value(alias = "table")]
    Text,
    /// For scripts: one JSON document on stdout.
    Json,
}

pub use kauth::duration::parse as parse_duration;

/// Parses an RFC 3339 time (`2027-06-01T00:00:00Z`) or `@<unix seconds>`.
pub fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    if let Some(secs) = s.strip_prefix('@') {
        let n: i64 = secs.parse().map_err(|_| format!("{s:?}: expected @<unix seconds>"))?;
        return OffsetDateTime::from_unix_timestamp(n).map_err(|e| format!("{s:?}: {e}"));
    }
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{s:?}: expected RFC 3339 such as 2027-06-01T00:00:00Z ({e})"))
}

/// The time a command evaluates at: `--at` when given, else the clock (read here, at the edge).
pub fn now_or(at: Option<OffsetDateTime>) -> OffsetDateTime {
    at.unwrap_or_else(OffsetDateTime::now_utc)
}

/// Prints a value as pretty JSON.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), crate::failure::Failure> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| crate::failure::Failure::unsound(format!("encoding JSON: {e}")))?;
    text.push('\n');
    emit(&text);
    Ok(())
}

/// Writes `text` to stdout. A closed pipe (`kauth ... | head`) ends the output quietly
/// instead of panicking as `println!` would.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
        assert_eq!(parse_duration("30d").unwrap().as_secs(), 30 * 86_400);
        assert_eq!(parse_duration("10y").unwrap().as_secs(), 10 * 365 * 86_400);
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999y").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("@1700000000").unwrap().unix_timestamp(), 1_700_000_000);
        assert_eq!(parse_time("2023-11-14T22:13:20Z").unwrap().unix_timestamp(), 1_700_000_000);
        assert!(parse_time("yesterday").is_err());
    }
}
