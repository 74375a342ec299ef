//! A watch read in the test's own thread: no server, no timer, no sleep.
//!
//! A watch response carries its stream (`Response::stream`); the transport runs it on a
//! channel and sends what arrives. Here it runs on a channel too, polled by hand: a poll sends
//! everything the watch can send now (the changes already committed are in its feed), then the
//! watch waits for the next change, its timeout (which never comes: no runtime drives the
//! timers) or the receiver going away.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use kauth_server::api::response::Response;
use serde_json::Value;
use tokio::sync::mpsc;

/// A watch's events as they are sent.
pub struct Events {
    runtime: tokio::runtime::Runtime,
    run: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    rx: mpsc::Receiver<Bytes>,
}

impl Events {
    /// Starts reading the watch `response` (which must be one).
    pub fn of(response: Response) -> Events {
        assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
        let stream = response.stream.expect("a watch response carries its event stream");
        // Roomy: everything a test commits fits without the watch waiting for the reader.
        let (tx, rx) = mpsc::channel(1024);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        Events { runtime, run: Some(stream.run(tx)), rx }
    }

    /// The events sent since the last call, parsed, oldest first.
    pub fn take(&mut self) -> Vec<Value> {
        if let Some(run) = &mut self.run {
            // Timers belong to the runtime, entered (never driven) here.
            let _runtime = self.runtime.enter();
            if run.as_mut().poll(&mut Context::from_waker(Waker::noop())) == Poll::Ready(()) {
                self.run = None;
            }
        }
        let mut events = Vec::new();
        while let Ok(chunk) = self.rx.try_recv() {
            for line in chunk.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                events.push(serde_json::from_slice(line).unwrap());
            }
        }
        events
    }

    /// Whether the watch has ended (after an `ERROR` event, for one).
    pub fn ended(&self) -> bool {
        self.run.is_none()
    }
}

/// `(type, name)` of each event.
pub fn summary(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            let name = e["object"]["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            (e["type"].as_str().unwrap().to_owned(), name)
        })
        .collect()
}
