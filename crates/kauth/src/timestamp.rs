//! Kubernetes' timestamps: RFC 3339 in UTC with whole seconds (`2022-11-27T08:14:01Z`), as
//! `metav1.Time` marshals them. The one formatter of the workspace: token explanations,
//! certificate reports and the server's objects all write time this way.

use time::OffsetDateTime;

/// `t` in UTC with microseconds, as Kubernetes writes a `MicroTime` (audit events):
/// `2022-11-27T08:14:01.999000Z`.
pub fn rfc3339_micro(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// `t` as `2022-11-27T08:14:01Z`; fractions of a second are dropped, as Kubernetes drops them.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A unix time in seconds as [`rfc3339`]; `@<seconds>` when it is outside the calendar's range.
pub fn rfc3339_unix(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds).map_or_else(|_| format!("@{seconds}"), rfc3339)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_in_utc() {
        assert_eq!(rfc3339_unix(1_669_536_841), "2022-11-27T08:14:01Z");
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_669_536_841_999_000_000).unwrap();
        assert_eq!(rfc3339(t), "2022-11-27T08:14:01Z");
        assert_eq!(rfc3339_micro(t), "2022-11-27T08:14:01.999000Z");
        let east = t.to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap());
        assert_eq!(rfc3339(east), "2022-11-27T08:14:01Z");
        assert_eq!(rfc3339_unix(i64::MAX), format!("@{}", i64::MAX));
    }
}
