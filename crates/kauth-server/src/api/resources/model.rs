//! The shape of the catalog's entries: a resource, its subresources, how kauth serves it.

use super::names::NameRule;

/// How kauth serves a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// Objects are stored (CRUD, patch, watch, selectors, paging).
    Stored,
    /// Create-only reviews: answered, nothing kept.
    Review,
    /// Listed in discovery, answered with a Status saying kauth does not serve it.
    Unserved,
}

/// A subresource (`pods/status`, `deployments/scale`, `pods/log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    /// The name after the slash.
    pub name: &'static str,
    /// The kind it takes and returns.
    pub kind: &'static str,
    /// Its group and version when they differ from the resource's (`autoscaling/v1` Scale).
    pub group_version: Option<(&'static str, &'static str)>,
    /// Verbs in discovery.
    pub verbs: &'static [&'static str],
}

/// One resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    /// API group.
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Plural name (the URL segment).
    pub plural: &'static str,
    /// Singular name.
    pub singular: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names for kubectl.
    pub short_names: &'static [&'static str],
    /// Verbs in discovery.
    pub verbs: &'static [&'static str],
    /// Categories (`all`) for kubectl.
    pub categories: &'static [&'static str],
    /// Its subresources.
    pub subresources: &'static [Subresource],
    /// How names are validated.
    pub names: NameRule,
    /// How it is served.
    pub serving: Serving,
    /// Whether objects are stored (`serving` is [`Serving::Stored`]).
    pub stored: bool,
    /// The store key segment after `/registry/`: the plural, except where two groups share a
    /// plural (events.k8s.io Events: `events.k8s.io`).
    pub store: &'static str,
}

/// Every verb of a stored collection.
pub const CRUD: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
/// A `status`-like subresource's verbs.
pub const GET_UPDATE: &[&str] = &["get", "patch", "update"];
/// A review's (or binding's) only verb.
pub const CREATE: &[&str] = &["create"];

#[allow(clippy::too_many_arguments)]
pub(super) const fn res(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    verbs: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [Subresource],
    names: NameRule,
    serving: Serving,
    store: &'static str,
) -> ResourceType {
    ResourceType {
        group,
        version,
        plural,
        singular,
        kind,
        namespaced,
        short_names,
        verbs,
        categories,
        subresources,
        names,
        serving,
        stored: matches!(serving, Serving::Stored),
        store,
    }
}

pub(super) const fn sub(
    name: &'static str,
    kind: &'static str,
    group_version: Option<(&'static str, &'static str)>,
    verbs: &'static [&'static str],
) -> Subresource {
    Subresource { name, kind, group_version, verbs }
}
