//! The paths a file's non-test code names: `use` declarations, paths in expressions, types,
//! patterns and attributes, and path-shaped tokens inside macro invocations (`write!(f, "{}",
//! crate::a::f())` names `crate::a`). Visibility paths (`pub(crate)`, `pub(in crate::a)`) name
//! no module: they say who may look, not what is used.

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// Where a path was written, which decides what it may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A private `use` declaration: a use, even of a whole module (`use crate::a;`).
    Use,
    /// A path in code or in a macro's tokens: a single segment naming a module there is a
    /// variable or a field that happens to share its name, never the module.
    Code,
}

/// Collects the paths a file's non-test code names, as segment lists.
#[derive(Default)]
pub(crate) struct Paths(pub(crate) Vec<(Kind, Vec<String>)>);

/// Whether `attrs` hold `#[cfg(test)]`.
pub(crate) fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") && a.parse_args::<syn::Meta>().is_ok_and(|m| m.path().is_ident("test")))
}

/// The attributes of an item (empty for the kinds that have none we care about).
pub(crate) fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// Calls `f(name, path)` for every name a use tree brings in (`use a::{b, c as d, self}` gives
/// `b → a::b`, `d → a::c`, `a → a`), and `f("*", prefix)` for a glob.
pub(crate) fn use_names(prefix: &mut Vec<String>, tree: &syn::UseTree, f: &mut dyn FnMut(&str, Vec<String>)) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_names(prefix, &p.tree, f);
            prefix.pop();
        }
        syn::UseTree::Name(n) if n.ident == "self" => {
            if let Some(last) = prefix.last() {
                f(&last.clone(), prefix.clone());
            }
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            f(&name, prefix.iter().cloned().chain([name.clone()]).collect());
        }
        syn::UseTree::Rename(r) => {
            let path = if r.ident == "self" {
                prefix.clone()
            } else {
                prefix.iter().cloned().chain([r.ident.to_string()]).collect()
            };
            f(&r.rename.to_string(), path);
        }
        syn::UseTree::Glob(_) => f("*", prefix.clone()),
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| use_names(prefix, t, f)),
    }
}

impl Paths {
    /// Path-shaped runs of tokens (`a::b::c`, not after a `.` or a leading `::`), in every group.
    fn tokens(&mut self, stream: TokenStream) {
        let tokens: Vec<TokenTree> = stream.into_iter().collect();
        let is_punct = |t: Option<&TokenTree>, c: char| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == c);
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(g) => {
                    self.tokens(g.stream());
                    i += 1;
                }
                TokenTree::Ident(first) => {
                    let before = |back: usize| i.checked_sub(back).and_then(|at| tokens.get(at));
                    // `x.field` is no path; `::std::x` is another crate's.
                    let skip = is_punct(before(1), '.') || is_punct(before(1), ':') && is_punct(before(2), ':');
                    let mut path = vec![first.to_string()];
                    i += 1;
                    while is_punct(tokens.get(i), ':') && is_punct(tokens.get(i + 1), ':') {
                        let Some(TokenTree::Ident(next)) = tokens.get(i + 2) else { break };
                        path.push(next.to_string());
                        i += 3;
                    }
                    if !skip {
                        self.0.push((Kind::Code, path));
                    }
                }
                _ => i += 1,
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_cfg_test(item_attrs(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        // A `pub use` re-exports: it makes a module a facade over others, not a user of them
        // (a path through it is followed to where the name is defined; see `scope.rs`).
        if matches!(u.vis, syn::Visibility::Inherited) {
            use_names(&mut Vec::new(), &u.tree, &mut |_, path| self.0.push((Kind::Use, path)));
        }
    }

    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.visit_path(&m.path);
        self.tokens(m.tokens.clone());
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        // `::name::x` starts at another crate.
        if p.leading_colon.is_none() {
            self.0.push((Kind::Code, p.segments.iter().map(|s| s.ident.to_string()).collect()));
        }
        syn::visit::visit_path(self, p);
    }
}
