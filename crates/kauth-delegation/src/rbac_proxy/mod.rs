//! kube-rbac-proxy's authorization, for `kauth proxy` and any server that wants its semantics:
//! the configuration file ([`config`]), how a request becomes questions ([`attributes`]: the
//! method mapped to a verb, the path or the configured resource, one question per rewrite
//! value), the `static` rules ([`static_rules`]) and its path patterns ([`path_pattern`]).

pub mod attributes;
pub mod config;
pub mod path_pattern;
pub mod static_rules;
