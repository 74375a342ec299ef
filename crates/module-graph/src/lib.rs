//! The module graph of a Rust crate, read from its sources, and its cycles.
//!
//! Every file under a crate's `src/` is a module (`lib.rs`/`main.rs` the root, `a/mod.rs` and
//! `a.rs` the module `a`). An edge `m → n` is any path in `m`'s code outside `#[cfg(test)]` items
//! — a `use` declaration or a path in an expression or type — that starts at `crate::`,
//! `super::`, `self::` or a child module's name and names the module `n` (the deepest module its segments walk
//! through). A `pub use` is a re-export, not a use: it makes no edge. A cycle is a strongly connected component of more than one module: modules that
//! reach each other, which no reader can take in order.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A crate's modules (`crate`, `crate::api`, `crate::api::status`) and the modules each uses.
#[derive(Debug, Default)]
pub struct Graph {
    /// Every module, with the modules its code names.
    pub edges: BTreeMap<String, BTreeSet<String>>,
}

/// Why a crate could not be read.
#[derive(Debug)]
pub enum Error {
    /// A file or directory could not be read.
    Io(PathBuf, std::io::Error),
    /// A file is not valid Rust.
    Parse(PathBuf, syn::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Error::Parse(p, e) => write!(f, "{}: not Rust: {e}", p.display()),
        }
    }
}

/// The module path of a file relative to `src/`.
fn module_of(relative: &Path) -> String {
    let mut parts: Vec<String> = relative.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") || !parts.is_empty() && stem != "mod" {
        parts.push(stem.to_owned());
    }
    std::iter::once("crate".to_owned()).chain(parts).collect::<Vec<_>>().join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::Io(dir.to_owned(), e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::Io(dir.to_owned(), e))?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") && a.parse_args::<syn::Meta>().is_ok_and(|m| m.path().is_ident("test")))
}

/// Collects the paths a file's non-test code names, as segment lists.
#[derive(Default)]
struct Paths(Vec<Vec<String>>);

impl Paths {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.push(prefix, &n.ident),
            syn::UseTree::Rename(r) => self.push(prefix, &r.ident),
            syn::UseTree::Glob(_) => self.0.push(prefix.clone()),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_tree(prefix, t)),
        }
    }

    fn push(&mut self, prefix: &[String], last: &syn::Ident) {
        let mut p = prefix.to_vec();
        if last != "self" {
            p.push(last.to_string());
        }
        self.0.push(p);
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !is_cfg_test(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        // `pub use` re-exports: it makes a module a facade over others, not a user of them.
        if matches!(u.vis, syn::Visibility::Inherited) {
            self.use_tree(&mut Vec::new(), &u.tree);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.0.push(p.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, p);
    }
}

/// The module a path from `from` names: walk `crate`/`super`/`self`, then as many segments as
/// name modules. `None` for paths that do not start inside the crate.
fn resolve(modules: &BTreeSet<String>, from: &str, path: &[String]) -> Option<String> {
    let mut at: Vec<&str> = from.split("::").collect();
    let mut rest = path.iter().peekable();
    match rest.peek().map(|s| s.as_str()) {
        Some("crate") => at.truncate(1),
        Some("super") | Some("self") => {}
        // A path relative to this module: its first segment is a child module.
        Some(child) if modules.contains(&format!("{from}::{child}")) => {}
        _ => return None,
    }
    let mut current = at.join("::");
    for seg in rest {
        match seg.as_str() {
            "crate" => {}
            "self" => {}
            "super" => {
                at.pop();
                current = at.join("::");
            }
            name => {
                let next = format!("{current}::{name}");
                if !modules.contains(&next) {
                    break;
                }
                at.push(name);
                current = next;
            }
        }
    }
    Some(current)
}

impl Graph {
    /// Reads every `.rs` file under `src`.
    pub fn read(src: &Path) -> Result<Graph, Error> {
        let mut files = Vec::new();
        rust_files(src, &mut files)?;
        files.sort();
        let mut parsed = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).map_err(|e| Error::Io(file.clone(), e))?;
            let ast = syn::parse_file(&text).map_err(|e| Error::Parse(file.clone(), e))?;
            let relative = file.strip_prefix(src).unwrap_or(file);
            parsed.push((module_of(relative), ast));
        }
        // Binaries beside lib.rs (src/bin) are crates of their own: left out.
        parsed.retain(|(m, _)| !m.starts_with("crate::bin"));
        let modules: BTreeSet<String> = parsed.iter().map(|(m, _)| m.clone()).collect();
        let mut graph = Graph::default();
        for (module, ast) in &parsed {
            let mut paths = Paths::default();
            paths.visit_file(ast);
            let targets = graph.edges.entry(module.clone()).or_default();
            for p in &paths.0 {
                if let Some(target) = resolve(&modules, module, p) {
                    if &target != module {
                        targets.insert(target);
                    }
                }
            }
        }
        Ok(graph)
    }

    /// Groups of modules that reach each other (strongly connected components of more than one
    /// module), each sorted; empty when the graph is acyclic.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let names: Vec<&String> = self.edges.keys().collect();
        let index: BTreeMap<&String, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let adjacency: Vec<Vec<usize>> =
            names.iter().map(|n| self.edges[*n].iter().filter_map(|t| index.get(t).copied()).collect()).collect();
        let reach = |from: usize| {
            let mut seen = vec![false; names.len()];
            let mut stack = vec![from];
            while let Some(n) = stack.pop() {
                for &m in &adjacency[n] {
                    if !seen[m] {
                        seen[m] = true;
                        stack.push(m);
                    }
                }
            }
            seen
        };
        // Small graphs (tens of modules): reachability from each node is plenty fast.
        let reaches: Vec<Vec<bool>> = (0..names.len()).map(reach).collect();
        let mut done = vec![false; names.len()];
        let mut cycles = Vec::new();
        for a in 0..names.len() {
            if done[a] || !reaches[a][a] {
                continue;
            }
            let group: Vec<usize> = (0..names.len()).filter(|&b| reaches[a][b] && reaches[b][a]).collect();
            group.iter().for_each(|&b| done[b] = true);
            if group.len() > 1 {
                cycles.push(group.iter().map(|&b| names[b].clone()).collect());
            }
        }
        cycles
    }

    /// The edges inside a group of modules, `a → b` one a line (to show a cycle).
    pub fn edges_within(&self, group: &[String]) -> Vec<String> {
        let set: BTreeSet<&String> = group.iter().collect();
        let mut out = Vec::new();
        for from in group {
            for to in self.edges.get(from).into_iter().flatten() {
                if set.contains(to) {
                    out.push(format!("{from} → {to}"));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(files: &[(&str, &str)]) -> Graph {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("module-graph-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let g = Graph::read(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        g
    }

    #[test]
    fn modules_are_named_from_their_files() {
        assert_eq!(module_of(Path::new("lib.rs")), "crate");
        assert_eq!(module_of(Path::new("a.rs")), "crate::a");
        assert_eq!(module_of(Path::new("a/mod.rs")), "crate::a");
        assert_eq!(module_of(Path::new("a/b.rs")), "crate::a::b");
        assert_eq!(module_of(Path::new("a/lib.rs")), "crate::a::lib");
    }

    #[test]
    fn a_use_cycle_through_super_and_an_inline_path_is_found() {
        let g = graph(&[
            ("lib.rs", "pub mod a; pub mod b; pub mod c;"),
            ("a.rs", "use crate::b::f; pub fn g() {}"),
            ("b.rs", "pub fn f() { crate::c::h(); }"),
            ("c/mod.rs", "pub mod d; pub fn h() {}"),
            ("c/d.rs", "use super::super::a::g;"),
        ]);
        assert_eq!(g.edges["crate::b"], BTreeSet::from(["crate::c".to_owned()]));
        assert!(g.cycles().is_empty(), "c → d is a declaration, not a use: {:?}", g.cycles());
        let g = graph(&[
            ("lib.rs", "pub mod a; pub mod b;"),
            ("a.rs", "use crate::b::f; pub fn g() {}"),
            ("b.rs", "pub fn f() { super::a::g() }"),
        ]);
        let relative = graph(&[("lib.rs", "pub mod a; pub fn f() { a::g() }"), ("a.rs", "pub fn g() { crate::f() }")]);
        assert_eq!(relative.cycles().len(), 1, "a path through a child module's name is an edge");
        assert_eq!(g.cycles(), vec![vec!["crate::a".to_owned(), "crate::b".to_owned()]]);
        assert_eq!(g.edges_within(&g.cycles()[0]), vec!["crate::a → crate::b", "crate::b → crate::a"]);
    }

    #[test]
    fn test_modules_and_foreign_paths_make_no_edges() {
        let g = graph(&[
            ("lib.rs", "pub mod a; pub mod b;"),
            ("a.rs", "use std::fmt; use crate::b::x; #[cfg(test)] mod tests { use crate::b::y; }"),
            ("b.rs", "#[cfg(test)] fn t() { crate::a::z(); } pub fn x() {}"),
        ]);
        assert!(g.cycles().is_empty());
        assert_eq!(g.edges["crate::a"], BTreeSet::from(["crate::b".to_owned()]));
        let facade = graph(&[
            ("lib.rs", "pub mod a; pub use a::g; pub struct E;"),
            ("a.rs", "pub fn g() -> crate::E { crate::E }"),
        ]);
        assert!(facade.cycles().is_empty(), "a re-export is not a use");
    }
}
