//! What a name means in a module, as rustc resolves it (closely enough for a graph): a child
//! module, a name brought in by a `use` (of any visibility, so re-exports too), an item defined
//! there, or a name from a glob import. A path is walked segment by segment through these, so
//! `crate::rbac::Grant`, re-exported by `rbac` from `rbac::grant`, names `crate::rbac::grant`:
//! the module that defines it, however many re-exports (and globs) stand between.

use std::collections::{BTreeMap, BTreeSet};

use crate::paths::{is_cfg_test, item_attrs, use_names};

/// Re-exports deeper than this are taken as a loop (`pub use self::*` chains) and given up on.
const MAX_DEPTH: usize = 32;

/// The names one module's file declares at its top level (test items left out).
#[derive(Debug, Default)]
pub(crate) struct Scope {
    /// Names brought in by `use`, with the path each stands for (relative to this module).
    imports: BTreeMap<String, Vec<String>>,
    /// The paths of glob imports (`use a::*`).
    globs: Vec<Vec<String>>,
    /// Items defined here: functions, types, traits, constants, macros, inline modules.
    defines: BTreeSet<String>,
}

impl Scope {
    /// Reads the top-level items of a file.
    pub(crate) fn of(file: &syn::File) -> Scope {
        let mut scope = Scope::default();
        for item in &file.items {
            if is_cfg_test(item_attrs(item)) {
                continue;
            }
            let ident = match item {
                syn::Item::Use(u) => {
                    use_names(&mut Vec::new(), &u.tree, &mut |name, path| match name {
                        "*" => scope.globs.push(path),
                        "_" => {}
                        _ => {
                            scope.imports.insert(name.to_owned(), path);
                        }
                    });
                    continue;
                }
                syn::Item::Const(i) => &i.ident,
                syn::Item::Enum(i) => &i.ident,
                syn::Item::Fn(i) => &i.sig.ident,
                syn::Item::Macro(i) => match &i.ident {
                    Some(ident) => ident,
                    None => continue,
                },
                syn::Item::Mod(i) => &i.ident,
                syn::Item::Static(i) => &i.ident,
                syn::Item::Struct(i) => &i.ident,
                syn::Item::Trait(i) => &i.ident,
                syn::Item::TraitAlias(i) => &i.ident,
                syn::Item::Type(i) => &i.ident,
                syn::Item::Union(i) => &i.ident,
                _ => continue,
            };
            scope.defines.insert(ident.to_string());
        }
        scope
    }
}

/// Where a path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// Every segment is a module: the path names this module itself.
    Module(String),
    /// An item (or something inside one: a variant, an associated item) of this module.
    Item(String),
    /// Another crate, the prelude, a local variable or a generic: no module of this crate.
    Outside,
}

/// A crate's modules and their scopes.
#[derive(Debug, Default)]
pub(crate) struct Crate {
    /// Every module's scope, by module path (`crate::a::b`).
    pub(crate) scopes: BTreeMap<String, Scope>,
}

fn parent(module: &str) -> String {
    match module.rsplit_once("::") {
        Some((up, _)) => up.to_owned(),
        None => module.to_owned(),
    }
}

impl Crate {
    /// What `path`, written in module `from`, names.
    pub(crate) fn resolve(&self, from: &str, path: &[String]) -> Resolved {
        self.resolve_at(from, path, 0)
    }

    fn resolve_at(&self, from: &str, path: &[String], depth: usize) -> Resolved {
        let Some((first, rest)) = path.split_first() else { return Resolved::Module(from.to_owned()) };
        let mut current = match first.as_str() {
            "crate" => "crate".to_owned(),
            "self" => from.to_owned(),
            "super" => parent(from),
            name => match self.lookup(from, name, depth) {
                Some(Resolved::Module(m)) => m,
                Some(other) => return other,
                None => return Resolved::Outside,
            },
        };
        for segment in rest {
            match segment.as_str() {
                "self" => {}
                "super" => current = parent(&current),
                name => match self.lookup(&current, name, depth) {
                    Some(Resolved::Module(m)) => current = m,
                    Some(other) => return other,
                    // Not declared where we can see (a variant, an associated item, something a
                    // macro defines): this module's, as far as a graph can tell.
                    None => return Resolved::Item(current),
                },
            }
        }
        Resolved::Module(current)
    }

    /// What `name` means in `module`'s namespace; None when it is not declared there.
    fn lookup(&self, module: &str, name: &str, depth: usize) -> Option<Resolved> {
        if depth > MAX_DEPTH {
            return None;
        }
        let child = format!("{module}::{name}");
        if self.scopes.contains_key(&child) {
            return Some(Resolved::Module(child));
        }
        let scope = self.scopes.get(module)?;
        if let Some(target) = scope.imports.get(name) {
            return Some(self.resolve_at(module, target, depth + 1));
        }
        if scope.defines.contains(name) {
            return Some(Resolved::Item(module.to_owned()));
        }
        // Explicit names shadow glob imports, as in rustc; the first glob that has it wins.
        scope.globs.iter().find_map(|glob| match self.resolve_at(module, glob, depth + 1) {
            Resolved::Module(m) => self.lookup(&m, name, depth + 1),
            _ => None,
        })
    }
}
