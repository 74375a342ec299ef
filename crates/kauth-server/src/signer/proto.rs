//! The messages and service trait generated from `proto/externaljwt_v1alpha1.proto`.
#![allow(missing_docs, clippy::all, clippy::pedantic, unreachable_pub)]

tonic::include_proto!("v1alpha1");
