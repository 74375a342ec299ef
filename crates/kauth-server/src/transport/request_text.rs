//! Text the transport writes for every request but that rarely changes, kept per worker thread:
//! the `Date` header, which changes once a second, and the client's address, which is the same
//! for every request on a connection and usually across connections (a proxy, a load
//! balancer, loopback). Formatting them each time cost about 3,000 instructions a request
//! (`scripts/bench-instructions.sh`), as much as the authorizer's decision.
//!
//! Each is a pure function of its key (the Unix second; the address), so a thread's cached
//! value is always right, whichever server or clock of the process asked last.

use std::cell::RefCell;
use std::net::IpAddr;
use std::time::SystemTime;

use hyper::header::HeaderValue;
use time::OffsetDateTime;

/// `now` as an HTTP date (`Sun, 06 Dec 2026 22:20:40 GMT`), for the `Date` header.
pub fn http_date(now: OffsetDateTime) -> Option<HeaderValue> {
    thread_local!(static LAST: RefCell<Option<(i64, HeaderValue)>> = const { RefCell::new(None) });
    let second = now.unix_timestamp();
    LAST.with_borrow_mut(|last| match last {
        Some((s, v)) if *s == second => Some(v.clone()),
        _ => {
            let v = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::from(now))).ok()?;
            *last = Some((second, v.clone()));
            Some(v)
        }
    })
}

/// `ip` as text (`127.0.0.1`, `::1`), as audit events and logs give the source.
pub fn address(ip: IpAddr) -> String {
    thread_local!(static LAST: RefCell<Option<(IpAddr, String)>> = const { RefCell::new(None) });
    LAST.with_borrow_mut(|last| match last {
        Some((a, text)) if *a == ip => text.clone(),
        _ => {
            let text = ip.to_string();
            *last = Some((ip, text.clone()));
            text
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_changes_with_the_second_and_only_then() {
        let t = OffsetDateTime::from_unix_timestamp(1_796_595_640).unwrap();
        assert_eq!(http_date(t).unwrap(), "Sun, 06 Dec 2026 22:20:40 GMT");
        let later_in_the_same_second = t + time::Duration::milliseconds(900);
        assert_eq!(http_date(later_in_the_same_second).unwrap(), "Sun, 06 Dec 2026 22:20:40 GMT");
        assert_eq!(http_date(t + time::Duration::seconds(1)).unwrap(), "Sun, 06 Dec 2026 22:20:41 GMT");
        // Another clock of the same process (a skewed replica in a test), then back.
        assert_eq!(http_date(t - time::Duration::seconds(90)).unwrap(), "Sun, 06 Dec 2026 22:19:10 GMT");
        assert_eq!(http_date(t).unwrap(), "Sun, 06 Dec 2026 22:20:40 GMT");
    }

    #[test]
    fn each_address_reads_as_itself() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(address(v4), "127.0.0.1");
        assert_eq!(address(v4), "127.0.0.1");
        assert_eq!(address(v6), "::1");
        assert_eq!(address("10.0.0.7".parse().unwrap()), "10.0.0.7");
        assert_eq!(address(v6), "::1");
    }
}
