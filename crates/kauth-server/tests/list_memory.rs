//! A list's memory does not grow with its length (issue 24): listing 20,000 ServiceAccounts
//! peaks at a fixed bound (the chunks in flight) plus a pointer per item, well under its body. Measured with a counting allocator
//! (peak bytes allocated since a reset), not with time. The body is read chunk by chunk and
//! dropped, as a client reading from the socket would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::alloc::System;

use common::{server, ADMIN};
use http::Method;
use kauth_server::api::resources;
use kauth_server::registry::Change;
use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait, INSTRUMENTED_SYSTEM};
use serde_json::json;
use tokio::sync::mpsc;

#[global_allocator]
static GLOBAL: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Adds ServiceAccounts `from..to` to namespace `big`, a thousand to a commit.
fn fill(s: &common::Server, from: usize, to: usize) {
    let sa = resources::by_kind("", "ServiceAccount").unwrap();
    for start in (from..to).step_by(1000) {
        let changes = (start..to.min(start + 1000))
            .map(|i| {
                Change::Create(
                    sa,
                    json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
                        "name": format!("sa-{i:06}"), "namespace": "big",
                        "uid": format!("00000000-0000-4000-8000-{i:012}"),
                        "creationTimestamp": "2027-01-15T08:00:00Z",
                        "labels": {"app": "bench", "team": format!("team-{}", i % 50)},
                        "annotations": {"owner": "someone@example.com"}}}),
                )
            })
            .collect();
        s.state.registry.commit(changes).unwrap();
    }
}

/// Lists namespace `big` in full as the admin and reads the body to its end; returns the peak
/// bytes allocated meanwhile (above what was allocated before) and the body's length.
fn list_peak(s: &common::Server) -> (usize, usize) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    GLOBAL.reset_peak_memory();
    let response = common::send(&s.state, Method::GET, "/api/v1/namespaces/big/serviceaccounts", None, Some(ADMIN));
    assert_eq!(response.status, 200);
    let (bytes, last) = match response.stream {
        None => (response.body.len(), response.body.last().copied()),
        Some(stream) => runtime.block_on(async move {
            let (tx, mut rx) = mpsc::channel(16);
            let writer = tokio::spawn(stream.run(tx));
            let (mut n, mut last) = (0, None);
            while let Some(chunk) = rx.recv().await {
                n += chunk.len();
                last = chunk.last().copied();
            }
            writer.await.unwrap();
            (n, last)
        }),
    };
    assert_eq!(last, Some(b'}'), "the body ends the list");
    (GLOBAL.get_peak_memory(), bytes)
}

#[test]
fn a_list_s_memory_stays_flat_as_it_grows() {
    let s = server();
    fill(&s, 0, 2_000);
    let (small_peak, small_bytes) = list_peak(&s);
    fill(&s, 2_000, 20_000);
    let (large_peak, large_bytes) = list_peak(&s);
    eprintln!("2,000 items: {small_bytes} B body, peak {small_peak} B; 20,000 items: {large_bytes} B body, peak {large_peak} B");
    assert!(large_bytes > 9 * small_bytes, "the larger list is ten times as long");
    // What a streamed list holds: a pointer to each object (8 bytes each, 160 KB for 20,000,
    // doubled while the vector grows) and the chunks in flight (the transport's channel holds
    // 16 of about 64 KiB). Anything that copied the objects or held the body whole would hold
    // more than the body itself (5 MB here).
    assert!(large_peak < 2 << 20, "a list of 20,000 peaked at {large_peak} B (2,000: {small_peak} B)");
    assert!(large_peak < large_bytes / 2, "peak {large_peak} B for a {large_bytes} B body");
}
