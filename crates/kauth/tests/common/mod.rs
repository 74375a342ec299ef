//! What kauth's test suites share.
#![allow(dead_code)]

pub mod tools;
