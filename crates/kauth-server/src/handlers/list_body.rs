//! A list's JSON written item by item: the envelope (`kind`, `apiVersion`, `metadata`, and for a
//! Table its `columnDefinitions`), then each item serialized straight from the stored object
//! into chunks of about [`CHUNK_BYTES`], sent as the client takes them.
//!
//! A list so costs the page's handles to the stored objects (a pointer each) and the chunks in
//! flight (the transport's channel holds 16), whatever its length: no copy of the objects, no
//! whole body. Before, a list of 200,000 ServiceAccounts cloned every object and held 32 MB of
//! JSON at once (0.6–0.9 GB more resident memory while it lasted).
//!
//! A short list (at most [`STREAM_AFTER`] items) is still written whole: it gets a
//! `Content-Length` rather than chunked encoding, and its body reaches the audit log at level
//! `RequestResponse`. A streamed list's body does not (as a watch's): the audit event records
//! the request and the status, not the items.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use serde::ser::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::api::resources::ResourceType;
use crate::api::response::{EventSource, Response};
use crate::registry::Stored;

/// About how many bytes each chunk holds (one item may make it larger).
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Lists longer than this are streamed.
pub const STREAM_AFTER: usize = 256;

/// What each item becomes.
#[derive(Debug, Clone, Copy)]
pub enum Form {
    /// The object, without its `kind` and `apiVersion` (the list's say them).
    Object,
    /// A Table row of `rt` as of `now`.
    TableRow(&'static ResourceType, OffsetDateTime),
}

/// A list's body: the envelope's opening, the items, and `]}`.
#[derive(Debug)]
pub struct ListBody {
    head: Vec<u8>,
    items: Vec<Arc<Stored>>,
    form: Form,
}

impl ListBody {
    /// A body whose envelope is `envelope` (an object; its last member, `items_field`, is added
    /// here) holding `items` in `form`.
    pub fn new(envelope: Map<String, Value>, items_field: &str, items: Vec<Arc<Stored>>, form: Form) -> Self {
        let mut head = Vec::with_capacity(256);
        head.push(b'{');
        for (k, v) in &envelope {
            write_json(&mut head, k);
            head.push(b':');
            write_json(&mut head, v);
            head.push(b',');
        }
        write_json(&mut head, items_field);
        head.extend_from_slice(b":[");
        ListBody { head, items, form }
    }

    /// The response: whole when short, streamed when long.
    pub fn into_response(self) -> Response {
        if self.items.len() <= STREAM_AFTER {
            let mut out = Vec::new();
            self.write_all(&mut out);
            Response::json_bytes(200, out)
        } else {
            Response::watch(self)
        }
    }

    /// The whole body into `out`.
    pub fn write_all(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head);
        for (i, item) in self.items.iter().enumerate() {
            self.write_item(i, item, out);
        }
        out.extend_from_slice(b"]}");
    }

    fn write_item(&self, index: usize, item: &Stored, out: &mut Vec<u8>) {
        if index > 0 {
            out.push(b',');
        }
        match self.form {
            Form::Object => out.extend_from_slice(item.item_json().as_bytes()),
            Form::TableRow(rt, now) => write_json(out, &super::discovery::table_row(rt, item, now)),
        }
    }
}

impl EventSource for ListBody {
    fn run(self: Box<Self>, tx: mpsc::Sender<Bytes>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            let mut chunk = Vec::with_capacity(CHUNK_BYTES + 4096);
            chunk.extend_from_slice(&self.head);
            for (i, item) in self.items.iter().enumerate() {
                self.write_item(i, item, &mut chunk);
                if chunk.len() >= CHUNK_BYTES {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_BYTES + 4096));
                    if tx.send(Bytes::from(full)).await.is_err() {
                        return; // the client went away
                    }
                }
            }
            chunk.extend_from_slice(b"]}");
            let _ = tx.send(Bytes::from(chunk)).await;
        })
    }
}

/// Serializes into `out`. serde_json cannot fail on a `Value`, a `str` or the map below (string
/// keys, no non-finite floats in a `Value`), so there is no error to carry.
fn write_json(out: &mut Vec<u8>, v: &(impl Serialize + ?Sized)) {
    let _ = serde_json::to_writer(out, v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items(n: usize) -> Vec<Arc<Stored>> {
        let sa = crate::api::resources::by_kind("", "ServiceAccount").expect("a kind of the table");
        (0..n)
            .map(|i| {
                Arc::new(Stored::new(
                    sa,
                    json!({"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": format!("sa-{i}")}}),
                    i as u64 + 1,
                ))
            })
            .collect()
    }

    fn envelope() -> Map<String, Value> {
        let Value::Object(m) =
            json!({"kind": "ServiceAccountList", "apiVersion": "v1", "metadata": {"resourceVersion": "9"}})
        else {
            unreachable!()
        };
        m
    }

    async fn streamed(body: ListBody) -> (Vec<u8>, usize) {
        let (tx, mut rx) = mpsc::channel(16);
        let task = tokio::spawn(Box::new(body).run(tx));
        let (mut out, mut chunks) = (Vec::new(), 0);
        while let Some(c) = rx.recv().await {
            out.extend_from_slice(&c);
            chunks += 1;
        }
        task.await.expect("the writer ends");
        (out, chunks)
    }

    #[tokio::test]
    async fn streamed_and_whole_bodies_are_the_same_list() {
        let n = 3000;
        let (bytes, chunks) = streamed(ListBody::new(envelope(), "items", items(n), Form::Object)).await;
        assert!(chunks > 1, "{chunks} chunks");
        let v: Value = serde_json::from_slice(&bytes).expect("valid JSON");
        assert_eq!(v["kind"], "ServiceAccountList");
        assert_eq!(v["metadata"]["resourceVersion"], "9");
        let listed = v["items"].as_array().expect("items");
        assert_eq!(listed.len(), n);
        assert_eq!(
            listed[7],
            json!({"metadata": {"name": "sa-7", "resourceVersion": "8"}}),
            "kind and apiVersion are the list's"
        );
        let mut whole = Vec::new();
        ListBody::new(envelope(), "items", items(n), Form::Object).write_all(&mut whole);
        assert_eq!(whole, bytes);
    }

    #[test]
    fn short_lists_are_whole_and_empty_ones_valid() {
        let r = ListBody::new(envelope(), "items", items(2), Form::Object).into_response();
        assert!(r.stream.is_none());
        let v: Value = serde_json::from_slice(&r.body).expect("JSON");
        assert_eq!(v["items"].as_array().map(Vec::len), Some(2));
        let r = ListBody::new(envelope(), "items", Vec::new(), Form::Object).into_response();
        let v: Value = serde_json::from_slice(&r.body).expect("JSON");
        assert_eq!(v["items"], json!([]));
        let r = ListBody::new(envelope(), "items", items(STREAM_AFTER + 1), Form::Object).into_response();
        assert!(r.stream.is_some());
    }
}
