//! The agent's Prometheus metrics, one registry, rendered in the text format on `/metrics`.

use prometheus::{Encoder, Gauge, GaugeVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

/// Every metric the agent keeps.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Seconds until each published token expires (negative: expired).
    pub expiry: GaugeVec,
    /// Tokens written.
    pub refreshes: IntCounterVec,
    /// Failed requests or writes.
    pub failures: IntCounterVec,
    /// Failures in a row now (0: healthy).
    pub consecutive_failures: IntGaugeVec,
    /// The delay before the next attempt after the last failure.
    pub backoff: GaugeVec,
    /// The issuer's clock against this machine's, from the last token (estimate).
    pub issuer_ahead: GaugeVec,
    /// New tokens held back as not valid yet by this machine's clock.
    pub held: IntCounterVec,
    /// Jumps of the local wall clock against the monotonic clock.
    pub clock_jumps: IntCounter,
    /// The last jump (negative: back).
    pub last_jump: Gauge,
}

fn vec<T: prometheus::core::Collector + Clone + 'static>(
    r: &Registry,
    m: Result<T, prometheus::Error>,
) -> Result<T, prometheus::Error> {
    let m = m?;
    r.register(Box::new(m.clone()))?;
    Ok(m)
}

impl Metrics {
    /// A fresh registry with every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let r = Registry::new();
        let token = &["token"];
        Ok(Metrics {
            expiry: vec(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "kauth_agent_token_expiry_seconds",
                        "Seconds until the published token expires (negative: expired)",
                    ),
                    token,
                ),
            )?,
            refreshes: vec(
                &r,
                IntCounterVec::new(Opts::new("kauth_agent_token_refreshes_total", "Tokens written"), token),
            )?,
            failures: vec(
                &r,
                IntCounterVec::new(
                    Opts::new("kauth_agent_refresh_failures_total", "Failed token requests or writes"),
                    token,
                ),
            )?,
            consecutive_failures: vec(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "kauth_agent_refresh_failures_consecutive",
                        "Failures in a row (0: the last attempt worked)",
                    ),
                    token,
                ),
            )?,
            backoff: vec(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "kauth_agent_refresh_backoff_seconds",
                        "Delay before the next attempt after the last failure",
                    ),
                    token,
                ),
            )?,
            issuer_ahead: vec(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "kauth_agent_issuer_clock_ahead_seconds",
                        "The issuer's clock ahead of this machine's (negative: behind), from the last token's request",
                    ),
                    token,
                ),
            )?,
            held: vec(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "kauth_agent_tokens_held_total",
                        "New tokens held back as not valid yet by this machine's clock",
                    ),
                    token,
                ),
            )?,
            clock_jumps: vec(
                &r,
                IntCounter::with_opts(Opts::new(
                    "kauth_agent_clock_jumps_total",
                    "Jumps of the wall clock against the monotonic clock",
                )),
            )?,
            last_jump: vec(
                &r,
                Gauge::with_opts(Opts::new(
                    "kauth_agent_clock_last_jump_seconds",
                    "The last jump of the wall clock (negative: back)",
                )),
            )?,
            registry: r,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}
