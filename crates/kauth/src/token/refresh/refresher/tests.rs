//! The refresher driven by a fake clock that never sleeps: time moves only when a test moves it.

use proptest::prelude::*;

use super::*;

/// A fake pair of clocks.
#[derive(Debug, Clone, Copy)]
struct FakeClock {
    wall_ms: i64,
    mono_ms: i64,
}

impl FakeClock {
    fn new() -> Self {
        FakeClock { wall_ms: 1_800_000_000_000, mono_ms: 7_000 }
    }
    fn now(&self) -> ClockReading {
        ClockReading { wall_ms: self.wall_ms, mono_ms: self.mono_ms }
    }
    fn advance(&mut self, ms: i64) {
        self.wall_ms += ms;
        self.mono_ms += ms;
    }
    fn advance_to(&mut self, mono_ms: i64) {
        assert!(mono_ms > self.mono_ms, "a wait must end in the future: {mono_ms} <= {}", self.mono_ms);
        self.advance(mono_ms - self.mono_ms);
    }
    /// The wall clock alone moves (NTP step, an operator's `date -s`).
    fn jump_wall(&mut self, ms: i64) {
        self.wall_ms += ms;
    }
    fn iat(&self, ahead_ms: i64) -> i64 {
        (self.wall_ms + ahead_ms).div_euclid(1000)
    }
}

fn token(iat: i64, lifetime_s: i64) -> Issued {
    Issued { iat, nbf: Some(iat), exp: iat + lifetime_s }
}

/// Polls, moving the clock to each wait's end, until the refresher asks for something.
fn wait_for_action(r: &mut Refresher, clock: &mut FakeClock) -> (Step, Vec<Event>) {
    let mut all = Vec::new();
    for _ in 0..100_000 {
        let (step, events) = r.poll(clock.now());
        all.extend(events);
        match step {
            Step::Wait { until_mono_ms } => clock.advance_to(until_mono_ms),
            other => return (other, all),
        }
    }
    panic!("never asked for anything")
}

/// Fetches a token from an issuer `ahead_ms` in front of the fake clock, answered after 40 ms.
fn fetch(r: &mut Refresher, clock: &mut FakeClock, ahead_ms: i64, lifetime_s: i64, u: f64) -> Vec<Event> {
    let sent = clock.now();
    let iat = clock.iat(ahead_ms + 20);
    clock.advance(40);
    r.fetched(token(iat, lifetime_s), sent, clock.now(), u)
}

fn start(r: &mut Refresher, clock: &mut FakeClock, lifetime_s: i64) -> i64 {
    assert_eq!(r.poll(clock.now()).0, Step::Fetch);
    let sent_mono = clock.mono_ms;
    fetch(r, clock, 0, lifetime_s, 0.0);
    assert_eq!(r.poll(clock.now()).0, Step::Publish);
    r.published();
    sent_mono
}

#[test]
fn an_hour_token_is_refetched_at_48_minutes_and_not_a_millisecond_before() {
    let mut clock = FakeClock::new();
    let mut r = Refresher::new(Policy::default());
    let sent = start(&mut r, &mut clock, 3600);
    let (step, events) = wait_for_action(&mut r, &mut clock);
    assert_eq!(step, Step::Fetch);
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(clock.mono_ms - sent, 2880 * 1000 + 1);
    // The token has its last 20% left, less the 40 ms the request took.
    assert_eq!(r.expires_in_ms(clock.now()), Some(720 * 1000 - 1));
}

#[test]
fn jitter_brings_the_refresh_forward_by_whole_seconds() {
    let mut clock = FakeClock::new();
    let mut r = Refresher::new(Policy::default());
    assert_eq!(r.poll(clock.now()).0, Step::Fetch);
    let sent = clock.mono_ms;
    let events = fetch(&mut r, &mut clock, 0, 600, 0.73);
    assert_eq!(events, [Event::Refreshed { lifetime_seconds: 600, refresh_in_ms: (480 - 7) * 1000 + 1 - 40 }]);
    r.poll(clock.now());
    r.published();
    assert_eq!(wait_for_action(&mut r, &mut clock).0, Step::Fetch);
    assert_eq!(clock.mono_ms - sent, (480 - 7) * 1000 + 1);
}

#[test]
fn a_day_is_the_longest_a_token_is_kept() {
    let mut clock = FakeClock::new();
    let mut r = Refresher::new(Policy::default());
    let sent = start(&mut r, &mut clock, 365 * 86_400);
    assert_eq!(wait_for_action(&mut r, &mut clock).0, Step::Fetch);
    assert_eq!(clock.mono_ms - sent, 86_400 * 1000 + 1);
}

#[test]
fn waits_are_never_longer_than_the_check_interval() {
    let mut clock = FakeClock::new();
    let mut r = Refresher::new(Policy::default());
    start(&mut r, &mut clock, 3600);
    let (step, _) = r.poll(clock.now());
    assert_eq!(step, Step::Wait { until_mono_ms: clock.mono_ms + 60_000 });
}

#[test]
fn a_server_down_backs_off_doubling_keeps_the_old_token_and_never_spins() {
    let mut clock = FakeClock::new();
    let mut r = Refresher::new(Policy::default());
    let sent = start(&mut r, &mut clock, 600);
    // Refresh time: the server is down from now on.
    assert_eq!(wait_for_action(&mut r, &mut clock).0, Step::Fetch);
    let mut gaps = Vec::new();
    let mut polls = 0;
    let mut last_attempt = clock.mono_ms;
    for _ in 0..12 {
        match r.failed(clock.now(), 0.0) {
            Event::Failed { published_left_ms, .. } => {
                // The old token is still the published one, with its real time left.
                assert_eq!(published_left_ms, Some(sent + 600_000 - clock.mono_ms));
            }
            other => panic!("{other:?}"),
        }
        loop {
            polls += 1;
            let (step, _) = r.poll(clock.now());
            match step {
                Step::Wait { until_mono_ms } => clock.advance_to(until_mono_ms),
                Step::Fetch => break,
                Step::Publish => panic!("nothing to publish"),
            }
        }
        gaps.push((clock.mono_ms - last_attempt) / 1000);
        last_attempt = clock.mono_ms;
    }
    assert_eq!(gaps, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
    // One poll per minute at most while waiting, plus the attempt: no busy loop.
    assert!(polls < 12 + (clock.mono_ms - sent) / 60_000 + 12, "{polls} polls");
    assert_eq!(r.failures(), 12);
    assert!(r.expires_in_ms(clock.now()).unwrap() < 0, "expired by now, and still known");
    // The server is back: the next token replaces the old one and the backoff resets.
    fetch(&mut r, &mut clock, 0, 600, 0.0);
    assert_eq!(r.poll(clock.now()).0, Step::Publish);
    r.published();
    assert_eq!(r.failures(), 0);
    assert!(r.expires_in_ms(clock.now()).unwrap() > 599_000);
}

#[test]
fn a_token_with_no_lifetime_is_a_failure() {
    let clock = FakeClock::new();
    let mut r = Refresher::new(Policy::default());
    r.poll(clock.now());
    let now = clock.now();
    let events = r.fetched(Issued { iat: 100, nbf: None, exp: 100 }, now, now, 0.0);
    assert_eq!(events, [Event::Failed { failures: 1, retry_in_ms: 1000, published_left_ms: None }]);
    assert_eq!(r.poll(clock.now()).0, Step::Wait { until_mono_ms: clock.mono_ms + 1000 });
}

#[test]
fn an_issuer_two_minutes_ahead_is_reported_and_its_token_held_until_valid_here() {
    let mut clock = FakeClock::new();
    let mut r = Refresher::new(Policy::default());
    // The first token has nothing to wait behind: it is published at once, and reported.
    assert_eq!(r.poll(clock.now()).0, Step::Fetch);
    let first_sent = clock.mono_ms;
    let events = fetch(&mut r, &mut clock, 120_000, 600, 0.0);
    assert!(
        matches!(events[0], Event::IssuerSkew { ahead_ms } if (119_000..=120_000).contains(&ahead_ms)),
        "{events:?}"
    );
    assert_eq!(r.poll(clock.now()).0, Step::Publish);
    r.published();
    let offset = r.issuer_offset().unwrap();
    assert!(offset.min_ahead_ms <= 120_020 && offset.max_ahead_ms >= 120_020, "{offset:?}");

    // The schedule runs on our clock from the request, whatever the issuer's says.
    assert_eq!(wait_for_action(&mut r, &mut clock).0, Step::Fetch);
    assert_eq!(clock.mono_ms - first_sent, 480_001);
    let events = fetch(&mut r, &mut clock, 120_000, 600, 0.0);
    // nbf is 120 s in our future, the leeway 60 s: held for 60 s (less what the request took).
    let held = events.iter().find_map(|e| match e {
        Event::Held { for_ms } => Some(*for_ms),
        _ => None,
    });
    assert!(matches!(held, Some(59_000..=60_000)), "{events:?}");
    let (step, _) = r.poll(clock.now());
    assert!(matches!(step, Step::Wait { .. }), "{step:?}");
    let old_left = r.expires_in_ms(clock.now()).unwrap();
    assert_eq!(wait_for_action(&mut r, &mut clock).0, Step::Publish);
    // When it is published, a validator with our clock accepts its nbf within the leeway, and
    // the old token was still valid all along.
    let nbf_ms = (clock.wall_ms + 120_000 - held.unwrap()) / 1000 * 1000;
    assert!(clock.wall_ms + 60_000 >= nbf_ms - 1000);
    assert!(r.expires_in_ms(clock.now()).unwrap() > 0 && r.expires_in_ms(clock.now()).unwrap() < old_left);
    r.published();
}

#[test]
fn a_skew_no_hold_can_cure_is_reported_not_held() {
    let mut clock = FakeClock::new();
    let mut r = Refresher::new(Policy::default());
    start(&mut r, &mut clock, 600);
    assert_eq!(wait_for_action(&mut r, &mut clock).0, Step::Fetch);
    // An issuer an hour ahead: its token would not be valid here for 59 minutes.
    let events = fetch(&mut r, &mut clock, 3_600_000, 600, 0.0);
    assert!(matches!(events[0], Event::IssuerSkew { ahead_ms } if ahead_ms > 3_599_000), "{events:?}");
    assert!(!events.iter().any(|e| matches!(e, Event::Held { .. })), "{events:?}");
    assert_eq!(r.poll(clock.now()).0, Step::Publish);
}

#[test]
fn a_backwards_jump_of_the_local_clock_is_reported_and_refreshes_at_once() {
    let mut clock = FakeClock::new();
    let mut r = Refresher::new(Policy::default());
    let sent = start(&mut r, &mut clock, 3600);
    clock.advance(600_000);
    // The wall clock goes back an hour; the monotonic clock goes on.
    clock.jump_wall(-3_600_000);
    clock.advance(10);
    let (step, events) = r.poll(clock.now());
    assert_eq!(events, [Event::ClockJumped { drift_ms: -3_600_000 }]);
    assert_eq!(step, Step::Fetch);
    // The issuer's clock is now an hour ahead of ours: reported, but not held, since it is
    // our clock that just moved.
    let events = fetch(&mut r, &mut clock, 3_600_000, 3600, 0.0);
    assert!(matches!(events[0], Event::IssuerSkew { ahead_ms } if ahead_ms > 3_599_000), "{events:?}");
    assert!(!events.iter().any(|e| matches!(e, Event::Held { .. })), "{events:?}");
    assert_eq!(r.poll(clock.now()).0, Step::Publish);
    r.published();
    // And the next refresh is 48 minutes on, by the monotonic clock.
    let refetch_sent = clock.mono_ms - 40;
    assert_eq!(wait_for_action(&mut r, &mut clock).0, Step::Fetch);
    assert_eq!(clock.mono_ms - refetch_sent, 2_880_001);
    assert_eq!(refetch_sent - sent, 600_010 + 40);
}

#[test]
fn the_kubelet_would_hold_an_expired_token_after_the_same_jump() {
    // The same story with the kubelet's rule (wall clock against the issuer's times): after the
    // jump back, the token expires (by the issuer's clock) long before the kubelet refreshes.
    let issued_wall_ms = 1_800_000_000_000i64;
    let exp_ms = issued_wall_ms + 3_600_000;
    let requires = |wall_ms: i64| {
        let iat = exp_ms - 3_600_000;
        wall_ms > iat + 86_400_000 || wall_ms > exp_ms - 720_000
    };
    // Real time 61 minutes after issue (the token expired a minute ago); the wall clock,
    // jumped back an hour, reads 1 minute after issue.
    assert!(!requires(issued_wall_ms + 61 * 60_000 - 3_600_000));
    // The refresher, told the same story, asked for a new token 10 minutes after issue.
    let mut clock = FakeClock { wall_ms: issued_wall_ms, mono_ms: 0 };
    let mut r = Refresher::new(Policy::default());
    start(&mut r, &mut clock, 3600);
    clock.advance(600_000);
    clock.jump_wall(-3_600_000);
    assert_eq!(r.poll(clock.now()).0, Step::Fetch);
}

#[test]
fn a_forward_jump_refreshes_too_and_a_failure_keeps_the_refresh_due() {
    let mut clock = FakeClock::new();
    let mut r = Refresher::new(Policy::default());
    start(&mut r, &mut clock, 3600);
    clock.advance(1_000);
    // The machine slept for two hours: the monotonic clock stood still.
    clock.jump_wall(7_200_000);
    let (step, events) = r.poll(clock.now());
    assert_eq!((step, events), (Step::Fetch, vec![Event::ClockJumped { drift_ms: 7_200_000 }]));
    r.failed(clock.now(), 0.0);
    // After the backoff, it is still due although the monotonic schedule says otherwise.
    assert_eq!(wait_for_action(&mut r, &mut clock).0, Step::Fetch);
}

#[test]
fn a_failed_write_is_retried_after_the_backoff_not_at_once() {
    let mut clock = FakeClock::new();
    let mut r = Refresher::new(Policy::default());
    assert_eq!(r.poll(clock.now()).0, Step::Fetch);
    fetch(&mut r, &mut clock, 0, 600, 0.0);
    assert_eq!(r.poll(clock.now()).0, Step::Publish);
    r.failed(clock.now(), 0.0);
    assert_eq!(r.poll(clock.now()).0, Step::Wait { until_mono_ms: clock.mono_ms + 1000 });
    clock.advance(1000);
    assert_eq!(r.poll(clock.now()).0, Step::Publish);
}

#[derive(Debug, Clone)]
enum Op {
    Advance(i64),
    JumpWall(i64),
    Succeed { ahead_ms: i64, lifetime_s: i64, u: f64 },
    Fail(f64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0i64..4_000_000).prop_map(Op::Advance),
        (-90_000_000i64..90_000_000).prop_map(Op::JumpWall),
        (-400_000i64..400_000, 600i64..100_000, 0.0f64..1.0).prop_map(|(ahead_ms, lifetime_s, u)| Op::Succeed {
            ahead_ms,
            lifetime_s,
            u
        }),
        (0.0f64..1.0).prop_map(Op::Fail),
    ]
}

proptest! {
    /// Whatever happens, a wait ends after the reading, a publish follows a fetch, and once a
    /// token is published there is always one.
    #[test]
    fn never_spins_never_loses_the_token(ops in proptest::collection::vec(op(), 1..60)) {
        let mut clock = FakeClock::new();
        let mut r = Refresher::new(Policy::default());
        let mut had_token = false;
        for op in ops {
            let (step, _) = r.poll(clock.now());
            match step {
                Step::Wait { until_mono_ms } => prop_assert!(until_mono_ms > clock.mono_ms),
                Step::Publish => match op {
                    Op::Fail(u) => { r.failed(clock.now(), u); }
                    _ => { r.published(); had_token = true; }
                },
                Step::Fetch => match op {
                    Op::Succeed { ahead_ms, lifetime_s, u } => { fetch(&mut r, &mut clock, ahead_ms, lifetime_s, u); }
                    Op::Fail(u) => { r.failed(clock.now(), u); }
                    _ => {}
                },
            }
            match op {
                Op::Advance(ms) => clock.advance(ms),
                Op::JumpWall(ms) => clock.jump_wall(ms),
                _ => {}
            }
            prop_assert_eq!(r.expires_in_ms(clock.now()).is_some(), had_token);
        }
    }
}
