use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::*;

fn payload(files: &[(&str, &str, u32)]) -> BTreeMap<String, FileProjection> {
    files.iter().map(|(n, d, m)| ((*n).to_owned(), FileProjection { data: Secret::new(*d), mode: *m })).collect()
}

fn at(s: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(s).unwrap()
}

fn timestamped(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("..") && n != DATA_DIR)
        .collect();
    v.sort();
    v
}

#[test]
fn the_kubelet_layout_with_the_configured_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tokens");
    let mut w = AtomicWriter::new(&dir);
    w.write(&payload(&[("token", "first", 0o600), ("vault", "v", 0o644)]), at(1_796_514_600)).unwrap();
    assert_eq!(std::fs::read_link(dir.join("token")).unwrap(), Path::new("..data/token"));
    assert_eq!(std::fs::read_link(dir.join("vault")).unwrap(), Path::new("..data/vault"));
    let ts = std::fs::read_link(dir.join(DATA_DIR)).unwrap().into_os_string().into_string().unwrap();
    // `..YYYY_MM_DD_HH_MM_SS.` and nine digits, as Go's MkdirTemp with the kubelet's pattern.
    assert!(ts.starts_with("..2026_12_05_23_50_00."), "{ts}");
    assert!(ts.len() == 31 && ts[22..].bytes().all(|b| b.is_ascii_digit()), "{ts}");
    assert_eq!(std::fs::read_to_string(dir.join("token")).unwrap(), "first");
    let mode = |n: &str| std::fs::metadata(dir.join(n)).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode("token"), mode("vault")), (0o600, 0o644));
    assert_eq!(std::fs::metadata(dir.join(&ts)).unwrap().permissions().mode() & 0o777, 0o755);
    assert_eq!(timestamped(&dir), [ts]);
}

#[test]
fn a_replaced_directory_lives_for_the_grace_and_until_the_next_write() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = AtomicWriter::new(tmp.path());
    w.write(&payload(&[("token", "one", 0o600)]), at(100)).unwrap();
    let first = timestamped(tmp.path());
    w.write(&payload(&[("token", "two", 0o600)]), at(200)).unwrap();
    assert_eq!(std::fs::read_to_string(tmp.path().join("token")).unwrap(), "two");
    let second = timestamped(tmp.path());
    assert_eq!(second.len(), 2);
    assert!(second.contains(&first[0]));
    // "one" was replaced at 200: kept at 229, removed at 230.
    w.write(&payload(&[("token", "three", 0o600)]), at(229)).unwrap();
    assert_eq!(timestamped(tmp.path()).len(), 3);
    w.write(&payload(&[("token", "four", 0o600)]), at(230)).unwrap();
    let fourth = timestamped(tmp.path());
    assert_eq!(fourth.len(), 3, "{fourth:?}");
    assert!(!fourth.contains(&first[0]), "{fourth:?}");
    // A new writer (a restarted agent) keeps the current and the previous directory only.
    let mut w = AtomicWriter::new(tmp.path());
    w.write(&payload(&[("token", "five", 0o600)]), at(231)).unwrap();
    assert_eq!(timestamped(tmp.path()).len(), 2);
}

#[test]
fn a_file_no_longer_written_loses_its_link() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = AtomicWriter::new(tmp.path());
    w.write(&payload(&[("a", "1", 0o600), ("b", "2", 0o600)]), at(1)).unwrap();
    w.write(&payload(&[("a", "3", 0o600)]), at(2)).unwrap();
    assert!(std::fs::symlink_metadata(tmp.path().join("b")).is_err());
    assert_eq!(std::fs::read_to_string(tmp.path().join("a")).unwrap(), "3");
}

#[test]
fn a_name_taken_by_someone_else_is_refused_and_nothing_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("token"), "theirs").unwrap();
    let mut w = AtomicWriter::new(tmp.path());
    let e = w.write(&payload(&[("token", "ours", 0o600)]), at(1)).unwrap_err();
    assert!(matches!(e, WriteError::NotOurs { .. }), "{e:?}");
    assert_eq!(std::fs::read_to_string(tmp.path().join("token")).unwrap(), "theirs");
}

#[test]
fn a_write_that_fails_leaves_the_old_content() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = AtomicWriter::new(tmp.path());
    w.write(&payload(&[("token", "old", 0o600)]), at(1)).unwrap();
    // A file name the file system refuses (a path separator inside a name cannot be created).
    let e = w.write(&payload(&[("token", "new", 0o600), ("x/y", "z", 0o600)]), at(2)).unwrap_err();
    assert!(matches!(e, WriteError::Io { op: "creating", .. }), "{e:?}");
    assert_eq!(std::fs::read_to_string(tmp.path().join("token")).unwrap(), "old");
    assert_eq!(timestamped(tmp.path()).len(), 1);
}

/// The generation's content: its number at both ends around a body whose length depends on
/// it, so a torn or mixed read shows.
fn content(generation: usize) -> String {
    format!("{generation}:{}:{generation}", "x".repeat(1000 + (generation * 37) % 4000))
}

fn check(text: &str) -> usize {
    let (head, rest) = text.split_once(':').expect("no head");
    let (body, tail) = rest.rsplit_once(':').expect("no tail");
    assert_eq!(head, tail, "a torn read");
    let g: usize = head.parse().unwrap();
    assert_eq!(body.len(), 1000 + (g * 37) % 4000, "a partial read of generation {g}");
    g
}

#[test]
fn a_reader_never_sees_a_partial_or_missing_file_while_the_writer_swaps() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let mut w = AtomicWriter::new(&dir);
    w.write(&payload(&[("token", &content(0), 0o600)]), at(0)).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let done = done.clone();
            let file = dir.join("token");
            std::thread::spawn(move || {
                let (mut reads, mut seen) = (0usize, std::collections::BTreeSet::new());
                while !done.load(Ordering::Acquire) {
                    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {reads}: {e}"));
                    seen.insert(check(&text));
                    reads += 1;
                }
                (reads, seen.len())
            })
        })
        .collect();
    // One swap a second by the writes' clock: 30 replaced directories stay at any time.
    const SWAPS: usize = 400;
    for g in 1..=SWAPS {
        w.write(&payload(&[("token", &content(g), 0o600)]), at(g as i64)).unwrap();
    }
    done.store(true, Ordering::Release);
    for r in readers {
        let (reads, generations) = r.join().unwrap();
        // The readers ran during the swaps and saw many generations.
        assert!(reads > 0 && generations > 1, "{reads} reads, {generations} generations");
    }
    assert_eq!(check(&std::fs::read_to_string(dir.join("token")).unwrap()), SWAPS);
    assert_eq!(timestamped(&dir).len(), 31);
}
