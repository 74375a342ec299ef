//! The module graph of a Rust crate, read from its sources, and its cycles.
//!
//! Every file under a crate's `src/` is a module (`lib.rs`/`main.rs` the root, `a/mod.rs` and
//! `a.rs` the module `a`). An edge `m → n` is any path in `m`'s code outside `#[cfg(test)]` items
//! — a `use` declaration, a path in an expression, type, pattern or attribute, or a path-shaped
//! run of tokens inside a macro call (`write!(f, "{}", crate::a::f())`) — that names something
//! of module `n`: the module that defines the item, found by walking the path's segments through
//! child modules, `use` imports and their re-exports (chains and globs), as rustc would.
//!
//! A `pub use` is a re-export: it makes no edge of its own (a module is a facade over what it
//! re-exports, not a user of it), but a path through it leads to the defining module, so a cycle
//! through a re-exported name is seen. Visibility paths (`pub(crate)`, `pub(in crate::a)`) make
//! no edge. A cycle is a strongly connected component of more than one module: modules that
//! reach each other, which no reader can take in order.
//!
//! Limits: method calls and inferred types name nothing (a module that only calls methods on a
//! value it was handed does not depend on the value's module here), and a macro's tokens count
//! only where they are shaped like a path.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

use paths::{Kind, Paths};
use scope::{Crate, Resolved, Scope};

mod paths;
mod scope;

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
        let mut names = Crate::default();
        for (module, ast) in &parsed {
            names.scopes.insert(module.clone(), Scope::of(ast));
        }
        let mut graph = Graph::default();
        for (module, ast) in &parsed {
            let mut paths = Paths::default();
            paths.visit_file(ast);
            let targets = graph.edges.entry(module.clone()).or_default();
            for (kind, path) in &paths.0 {
                let target = match names.resolve(module, path) {
                    Resolved::Outside => continue,
                    // A lone name in code that names a module is a variable or a field.
                    Resolved::Module(_) if *kind == Kind::Code && path.len() == 1 => continue,
                    Resolved::Module(m) | Resolved::Item(m) => m,
                };
                if &target != module {
                    targets.insert(target);
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

    fn edges(g: &Graph, module: &str) -> Vec<String> {
        g.edges[module].iter().cloned().collect()
    }

    /// The shape of kauth's authz ↔ rbac::explain cycle: the user names the type through its
    /// parent's re-export, the defining module uses the user.
    #[test]
    fn a_cycle_through_a_re_export_is_found() {
        let files = |authz: &'static str| {
            graph(&[
                ("lib.rs", "pub mod authz; pub mod rbac;"),
                ("authz.rs", authz),
                ("rbac/mod.rs", "pub mod explain; pub use explain::Explanation;"),
                ("rbac/explain.rs", "use crate::authz::Attributes; pub struct Explanation;"),
            ])
        };
        let through_path = files("pub struct Attributes; pub fn f() -> crate::rbac::Explanation { todo!() }");
        assert_eq!(edges(&through_path, "crate::authz"), ["crate::rbac::explain"]);
        assert_eq!(through_path.cycles(), vec![vec!["crate::authz".to_owned(), "crate::rbac::explain".to_owned()]]);
        // authz's own `pub use` makes no edge, its use of the name does (a lone name, in a macro).
        let through_own_re_export =
            files("pub use crate::rbac::Explanation; pub struct Attributes; fn f() { drop(vec![Explanation]) }");
        assert_eq!(edges(&through_own_re_export, "crate::authz"), ["crate::rbac::explain"]);
        let unused_re_export = files("pub use crate::rbac::Explanation; pub struct Attributes;");
        assert!(unused_re_export.cycles().is_empty(), "a re-export alone is not a use");
    }

    #[test]
    fn re_export_chains_renames_and_globs_lead_to_the_defining_module() {
        let g = graph(&[
            ("lib.rs", "pub mod a; pub mod b; pub use b::*;"),
            ("a.rs", "use crate::Deep; use crate::Renamed; pub fn g() { crate::inner::h() }"),
            ("b/mod.rs", "pub mod c; pub mod inner; pub use c::Deep; pub use c::Thing as Renamed;"),
            ("b/c.rs", "pub use self::d::*; pub mod d {} pub struct Deep; pub struct Thing;"),
            ("b/inner.rs", "pub fn h() {}"),
        ]);
        assert_eq!(edges(&g, "crate::a"), ["crate::b::c", "crate::b::inner"]);
        let looped = graph(&[("lib.rs", "pub mod a; pub use self::*;"), ("a.rs", "use crate::Nowhere;")]);
        assert_eq!(edges(&looped, "crate::a"), ["crate"], "a glob loop ends at the module that has it");
    }

    #[test]
    fn visibility_paths_lone_names_and_foreign_macros_make_no_edges() {
        let g = graph(&[
            ("lib.rs", "pub mod a; pub mod b; fn root() { a::f() }"),
            (
                "a/mod.rs",
                "pub mod c; pub(crate) fn f() {} pub(super) fn g() -> u8 { let c = 1; c } pub(in crate::b) fn h() {}",
            ),
            ("a/c.rs", "use super::g; pub(in crate::a) struct S; pub(self) fn f() { let _ = (g(), ::b::x); }"),
            ("b.rs", "pub fn f(x: &u8) -> String { format!(\"{}\", x.c) }"),
        ]);
        assert!(edges(&g, "crate::a").is_empty(), "pub(crate) is no use of the crate root");
        assert_eq!(edges(&g, "crate::a::c"), ["crate::a"], "a variable named like a module is no use of it");
        assert!(edges(&g, "crate::b").is_empty());
        assert!(g.cycles().is_empty());
        let in_macro = graph(&[
            ("lib.rs", "pub mod a; pub mod b;"),
            ("a.rs", "pub fn f() -> String { format!(\"{}\", crate::b::g()) }"),
            ("b.rs", "pub fn g() -> u8 { assert!(matches!(super::a::f(), _)); 1 }"),
        ]);
        assert_eq!(in_macro.cycles().len(), 1, "paths inside macro calls are uses: {:?}", in_macro.edges);
    }
}
