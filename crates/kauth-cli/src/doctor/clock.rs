//! The clock check: the server's clock, read from the `Date` header of an anonymous request,
//! against this machine's, with kube-apiserver's 60 s leeway in mind (seed 000: a node 90 s
//! ahead issues tokens the others call "not valid yet" for 30 s).

use kauth::token::validate::DEFAULT_LEEWAY_SECONDS;
use kauth::token::{span, utc};
use time::OffsetDateTime;

use super::finding::{Check, Report};
use crate::api_client::{ApiClient, Settings};

/// Skew below this is not worth a word (the Date header has one-second resolution).
const NOISE_SECONDS: i64 = 10;

/// The server's clock minus this machine's, in seconds, from a `Date` header read between
/// `before` and `after` on this machine.
pub fn skew(date: &str, before: OffsetDateTime, after: OffsetDateTime) -> Result<i64, String> {
    let server = httpdate::parse_http_date(date).map_err(|e| format!("Date {date:?}: {e}"))?;
    let server = OffsetDateTime::from(server);
    let middle: OffsetDateTime = before + (after - before) / 2;
    let d: time::Duration = server - middle;
    Ok(d.whole_seconds())
}

/// Reads the server's `Date` (no credential sent, the certificate not judged: only the time is
/// wanted) and records the skew; returns it.
pub fn check(server_url: &str, clock: &dyn Fn() -> OffsetDateTime, report: &mut Report) -> Option<i64> {
    let settings = Settings {
        server: server_url.to_owned(),
        ca_pem: None,
        client_cert: None,
        bearer: None,
        insecure: true,
        env_proxy: false,
    };
    let api = ApiClient::new("the clock probe", settings).ok()?;
    let before = clock();
    let answer = api.call("/version", None);
    let after = clock();
    let date = match answer {
        Ok(a) => a.date,
        Err(e) => {
            report.note(Check::Clock, format!("the server's clock was not read: {e}"));
            return None;
        }
    };
    let Some(date) = date else {
        report.note(Check::Clock, "the server's answer has no Date header: its clock was not read");
        return None;
    };
    let s = match skew(&date, before, after) {
        Ok(s) => s,
        Err(e) => {
            report.note(Check::Clock, format!("the server's clock was not read: {e}"));
            return None;
        }
    };
    record(s, &date, after, report);
    Some(s)
}

/// Records what a skew of `s` seconds (server minus this machine) means.
pub fn record(s: i64, date: &str, here: OffsetDateTime, report: &mut Report) {
    let leeway = DEFAULT_LEEWAY_SECONDS;
    let (who, direction) = if s > 0 { ("the server's clock", "ahead of") } else { ("the server's clock", "behind") };
    let measured = format!(
        "{who} is {} {direction} this machine's (server Date: {date}; here: {})",
        span(s),
        utc(here.unix_timestamp())
    );
    let fix = "synchronize the clocks of this machine, every API server and every node (chrony or systemd-timesyncd: chronyc tracking, timedatectl timesync-status); kauth agent and kubelets then stop meeting tokens from the future";
    if s.abs() > leeway {
        let consequence = if s > 0 {
            format!("tokens it issues start (iat, nbf) {} in this machine's future, beyond the {leeway} s leeway: any API server or client whose clock agrees with this machine refuses them as not valid yet for their first {} (kube-apiserver says only \"Token could not be validated\"), and client certificates it signs are not yet valid here", span(s), span(s - leeway))
        } else {
            format!("tokens issued on this machine's clock (or by a replica in step with it) are \"not valid yet\" to that server for their first {}, beyond the {leeway} s leeway; tokens it issues expire early here", span(-s - leeway))
        };
        report.error(Check::Clock, format!("clock skew: {measured}: {consequence}"), fix);
    } else if s.abs() > NOISE_SECONDS {
        report.warn(
            Check::Clock,
            format!("clock skew: {measured}: within the {leeway} s leeway, but a skew that grows past it makes tokens fail as \"not valid yet\""),
            fix,
        );
    } else {
        report.note(
            Check::Clock,
            format!("the server's clock agrees with this machine's within {NOISE_SECONDS} s (measured {s} s)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(s).unwrap()
    }

    #[test]
    fn skew_is_measured_against_the_middle_of_the_request() {
        // 1700000090 is Tue, 14 Nov 2023 22:14:50 GMT.
        assert_eq!(skew("Tue, 14 Nov 2023 22:14:50 GMT", at(1_700_000_000), at(1_700_000_000)).unwrap(), 90);
        assert_eq!(skew("Tue, 14 Nov 2023 22:14:50 GMT", at(1_700_000_088), at(1_700_000_092)).unwrap(), 0);
        assert!(skew("yesterday", at(0), at(0)).is_err());
    }

    #[test]
    fn ninety_seconds_ahead_is_an_error_and_five_is_nothing() {
        let mut r = Report::new(String::new(), String::new(), String::new());
        record(90, "D", at(1_700_000_000), &mut r);
        assert_eq!(r.findings.len(), 1);
        assert!(
            r.findings[0].cause.starts_with("clock skew: the server's clock is 1m30s ahead of this machine's"),
            "{}",
            r.findings[0].cause
        );
        assert!(r.findings[0].cause.contains("for their first 30s"), "{}", r.findings[0].cause);
        let mut r = Report::new(String::new(), String::new(), String::new());
        record(-30, "D", at(1_700_000_000), &mut r);
        assert_eq!(r.findings[0].severity, super::super::finding::Severity::Warning);
        let mut r = Report::new(String::new(), String::new(), String::new());
        record(5, "D", at(1_700_000_000), &mut r);
        assert!(r.findings.is_empty());
    }
}
