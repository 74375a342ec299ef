//! The agent's loop: for each token, ask its [`Refresher`] what to do, do it (request through a
//! [`Fetch`], write through the directory's [`AtomicWriter`]), report what happened to the log,
//! the metrics and `/healthz`, and sleep until the earliest wait ends.
//!
//! The loop holds no timing logic of its own: every decision is the refresher's, every sleep
//! ends where it says, so a fake clock drives it in tests exactly as the machine's does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use kauth::token::refresh::{Event, Policy, Refresher, Step};
use kauth::token::span;

use super::atomic_writer::{AtomicWriter, FileProjection};
use super::clock::{wall, AgentClock};
use super::config::TokenSpec;
use super::metrics::Metrics;
use super::random;
use super::token_request::Fetch;
use crate::secret::Secret;

/// What `/healthz` and the metrics know of one token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenStatus {
    /// When the published token expires, on the monotonic clock; `None`: none published yet.
    pub expires_at_mono: Option<i64>,
    /// Failures in a row.
    pub failures: u32,
    /// The last failure, in words.
    pub last_error: Option<String>,
}

/// The state the loop shares with the health endpoint.
#[derive(Debug)]
pub struct Status {
    /// The metrics.
    pub metrics: Metrics,
    tokens: Mutex<BTreeMap<String, TokenStatus>>,
}

impl Status {
    /// Each token's status, by name.
    pub fn tokens(&self) -> BTreeMap<String, TokenStatus> {
        self.tokens.lock().map(|t| t.clone()).unwrap_or_default()
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut TokenStatus)) {
        if let Ok(mut t) = self.tokens.lock() {
            f(t.entry(name.to_owned()).or_default());
        }
    }

    /// Sets the expiry gauges for `now_mono`.
    pub fn refresh_gauges(&self, now_mono: i64) {
        for (name, t) in self.tokens() {
            if let Some(at) = t.expires_at_mono {
                self.metrics.expiry.with_label_values(&[name.as_str()]).set((at - now_mono) as f64 / 1000.0);
            }
        }
    }
}

struct Slot {
    spec: TokenSpec,
    refresher: Refresher,
    fetched: Option<Secret>,
}

/// The loop over every token.
pub struct Agent<C: AgentClock, F: Fetch> {
    clock: C,
    fetcher: Arc<F>,
    slots: Vec<Slot>,
    /// Draws in `[0, 1)` for the jitters.
    draw: fn() -> f64,
    /// What each directory holds now: every published token in it.
    files: BTreeMap<PathBuf, BTreeMap<String, FileProjection>>,
    /// Each directory's writer.
    writers: BTreeMap<PathBuf, AtomicWriter>,
    /// A jump was reported in this tick (every token's refresher sees it; it is one jump).
    jump_reported: bool,
    status: Arc<Status>,
}

fn seconds(ms: i64) -> String {
    let s = ms / 1000;
    if s.abs() >= 1 {
        span(s)
    } else {
        format!("{ms}ms")
    }
}

impl<C: AgentClock, F: Fetch> Agent<C, F> {
    /// An agent for `tokens`, none fetched yet.
    pub fn new(clock: C, fetcher: F, tokens: Vec<TokenSpec>, policy: Policy, metrics: Metrics) -> Self {
        let status = Arc::new(Status { metrics, tokens: Mutex::new(BTreeMap::new()) });
        let slots = tokens
            .into_iter()
            .map(|spec| {
                status.update(&spec.name, |_| {});
                Slot { spec, refresher: Refresher::new(policy), fetched: None }
            })
            .collect();
        Agent {
            clock,
            fetcher: Arc::new(fetcher),
            slots,
            draw: random::unit,
            files: BTreeMap::new(),
            writers: BTreeMap::new(),
            jump_reported: false,
            status,
        }
    }

    /// Draws the jitters from `draw` (tests: a constant).
    #[cfg(test)]
    pub fn with_draw(mut self, draw: fn() -> f64) -> Self {
        self.draw = draw;
        self
    }

    /// The state `/healthz` and `/metrics` read.
    pub fn status(&self) -> Arc<Status> {
        self.status.clone()
    }

    /// Does everything due now for every token; returns the earliest point on the monotonic
    /// clock when something will be due again.
    pub async fn tick(&mut self) -> i64 {
        let mut wake = i64::MAX;
        self.jump_reported = false;
        for i in 0..self.slots.len() {
            loop {
                let now = self.clock.read();
                let (step, events) = self.slots[i].refresher.poll(now);
                self.report(i, &events);
                match step {
                    Step::Wait { until_mono_ms } => {
                        wake = wake.min(until_mono_ms);
                        break;
                    }
                    Step::Fetch => self.fetch(i).await,
                    Step::Publish => self.publish(i),
                }
            }
        }
        self.status.refresh_gauges(self.clock.read().mono_ms);
        wake
    }

    /// Runs until `shutdown` completes.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let wake = tokio::select! {
                w = self.tick() => w,
                () = &mut shutdown => return,
            };
            tokio::select! {
                () = self.clock.sleep_until(wake) => {}
                () = &mut shutdown => return,
            }
        }
    }

    /// Whether every token is published.
    #[cfg(test)]
    pub fn all_published(&self) -> bool {
        self.status.tokens().values().all(|t| t.expires_at_mono.is_some())
    }

    async fn fetch(&mut self, i: usize) {
        let spec = self.slots[i].spec.clone();
        let fetcher = self.fetcher.clone();
        let sent = self.clock.read();
        let result = tokio::task::spawn_blocking(move || fetcher.fetch(&spec)).await;
        let answered = self.clock.read();
        let slot = &mut self.slots[i];
        let result = match result {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(e) => Err(format!("the request task failed: {e}")),
        };
        match result {
            Ok(f) => {
                let events = slot.refresher.fetched(f.issued, sent, answered, (self.draw)());
                slot.fetched = Some(f.token);
                self.report(i, &events);
            }
            Err(reason) => self.fail(i, reason),
        }
    }

    fn fail(&mut self, i: usize, reason: String) {
        let now = self.clock.read();
        let slot = &mut self.slots[i];
        let event = slot.refresher.failed(now, (self.draw)());
        let name = slot.spec.name.clone();
        self.status.update(&name, |t| t.last_error = Some(reason.clone()));
        if let Event::Failed { failures, retry_in_ms, published_left_ms } = event {
            let kept = match published_left_ms {
                Some(left) if left > 0 => format!("the published token stays ({} left)", seconds(left)),
                Some(left) => format!("the published token expired {} ago", seconds(-left)),
                None => "no token published yet".into(),
            };
            tracing::warn!(
                "{name}: {reason} ({failures} failure{} in a row); next attempt in {}; {kept}",
                if failures == 1 { "" } else { "s" },
                seconds(retry_in_ms)
            );
        }
        self.report(i, &[event]);
    }

    fn publish(&mut self, i: usize) {
        let now = self.clock.read();
        let slot = &self.slots[i];
        let Some(token) = slot.fetched.clone() else {
            // Nothing fetched to write: a refresher out of step with the loop; drop the step.
            self.slots[i].refresher.published();
            return;
        };
        let dir = slot.spec.dir.clone();
        let mut payload = self.files.get(&dir).cloned().unwrap_or_default();
        payload.insert(slot.spec.file.clone(), FileProjection { data: token, mode: slot.spec.mode });
        let writer = self.writers.entry(dir.clone()).or_insert_with(|| AtomicWriter::new(&dir));
        match writer.write(&payload, wall(now)) {
            Ok(()) => {
                self.files.insert(dir, payload);
                let slot = &mut self.slots[i];
                slot.refresher.published();
                slot.fetched = None;
                let name = slot.spec.name.clone();
                let expires = slot.refresher.expires_in_ms(now).map(|left| now.mono_ms + left);
                self.status.update(&name, |t| {
                    t.expires_at_mono = expires;
                    t.failures = 0;
                    t.last_error = None;
                });
                let m = &self.status.metrics;
                m.refreshes.with_label_values(&[name.as_str()]).inc();
                m.consecutive_failures.with_label_values(&[name.as_str()]).set(0);
                tracing::info!(
                    "{name}: wrote a new token to {} ({} left)",
                    self.slots[i].spec.dir.join(&self.slots[i].spec.file).display(),
                    seconds(expires.map_or(0, |e| e - now.mono_ms))
                );
            }
            Err(e) => self.fail(i, format!("writing the token: {e}")),
        }
    }

    fn report(&mut self, i: usize, events: &[Event]) {
        let name = self.slots[i].spec.name.as_str();
        let m = &self.status.metrics;
        for e in events {
            match *e {
                Event::ClockJumped { drift_ms } => {
                    if !self.jump_reported {
                        self.jump_reported = true;
                        m.clock_jumps.inc();
                        m.last_jump.set(drift_ms as f64 / 1000.0);
                        tracing::warn!(
                            "this machine's clock jumped {} {} against its monotonic clock (NTP step, manual change, or sleep): the tokens' ages are no longer certain, refreshing every token now",
                            if drift_ms < 0 { "back" } else { "forward" },
                            seconds(drift_ms.abs())
                        );
                    }
                }
                Event::IssuerSkew { ahead_ms } => {
                    let (dir, by) = if ahead_ms > 0 { ("ahead of", ahead_ms) } else { ("behind", -ahead_ms) };
                    let consequence = if ahead_ms > 60_000 {
                        format!(
                            ": its tokens are issued {} in this machine's future, so a validator with this machine's clock and the usual 60s leeway rejects them as not valid yet for {} after issue",
                            seconds(ahead_ms),
                            seconds(ahead_ms - 60_000)
                        )
                    } else {
                        String::new()
                    };
                    tracing::warn!(
                        "{name}: the issuer's clock is at least {} {dir} this machine's{consequence}; sync the clocks (chrony/NTP)",
                        seconds(by)
                    );
                }
                Event::Held { for_ms } => {
                    m.held.with_label_values(&[name]).inc();
                    tracing::warn!(
                        "{name}: the new token is not valid yet by this machine's clock: held back {} while the published one stays",
                        seconds(for_ms)
                    );
                }
                Event::Refreshed { lifetime_seconds, refresh_in_ms } => {
                    if let Some(o) = self.slots[i].refresher.issuer_offset() {
                        m.issuer_ahead.with_label_values(&[name]).set(o.estimate_ms() as f64 / 1000.0);
                    }
                    tracing::info!(
                        "{name}: new token, lifetime {}, next refresh in {}",
                        span(lifetime_seconds),
                        seconds(refresh_in_ms)
                    );
                }
                Event::Failed { failures, retry_in_ms, .. } => {
                    m.failures.with_label_values(&[name]).inc();
                    m.consecutive_failures.with_label_values(&[name]).set(i64::from(failures));
                    m.backoff.with_label_values(&[name]).set(retry_in_ms as f64 / 1000.0);
                    self.status.update(name, |t| t.failures = failures);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
