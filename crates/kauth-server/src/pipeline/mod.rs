//! The request pipeline: a stack of filters as tower layers, one file each, in the order of
//! kube-apiserver's handler chain (`k8s.io/apiserver/pkg/endpoints/filters`). Reading [`stack`]
//! tells the whole path of a request:
//!
//! 1. [`request_info`]: what the request addresses, parsed once.
//! 2. [`blocking_writes`]: a request that may commit to the store runs the rest on the
//!    blocking pool.
//! 3. [`audit`]: the audit event, recorded once whatever is below has answered.
//! 4. [`authentication`]: who is asking (401 otherwise), into the authentication metrics.
//! 5. [`impersonation`]: whom the request acts as.
//! 6. [`authorization`]: whether that user may (403 otherwise).
//! 7. [`dispatch`]: the handler.
//!
//! What travels with a request between the filters is in [`context`].

pub mod audit;
pub mod authentication;
pub mod authorization;
pub mod blocking_writes;
pub mod context;
pub mod dispatch;
pub mod impersonation;
pub mod request_info;

use std::sync::Arc;

use tower::{Service, ServiceBuilder};

use crate::api::request::Request;
use crate::api::response::Response;
use crate::state::State;

/// The pipeline's service: a request in, its response out.
pub type Pipeline = request_info::WithRequestInfo<
    blocking_writes::WithBlockingWrites<
        audit::WithAudit<
            authentication::WithAuthentication<
                impersonation::WithImpersonation<authorization::WithAuthorization<dispatch::Dispatch>>,
            >,
        >,
    >,
>;

/// Builds the pipeline over `state`, once per server; clones are cheap and share the state.
pub fn stack(state: Arc<State>) -> Pipeline {
    ServiceBuilder::new()
        .layer(request_info::RequestInfoLayer)
        .layer(blocking_writes::BlockingWritesLayer)
        .layer(audit::AuditLayer::new(state.clone()))
        .layer(authentication::AuthenticationLayer::new(state.clone()))
        .layer(impersonation::ImpersonationLayer::new(state.clone()))
        .layer(authorization::AuthorizationLayer::new(state.clone()))
        .service(dispatch::Dispatch::new(state))
}

/// Runs one request through `pipeline` (a clone of [`stack`]'s service).
pub async fn call(pipeline: &mut Pipeline, request: Request) -> Response {
    let Ok(()) = std::future::poll_fn(|cx| pipeline.poll_ready(cx)).await;
    let Ok(response) = pipeline.call(request).await;
    response
}

/// The whole pipeline for one request, on a stack built for it (in-process callers; the server
/// builds its stack once).
pub async fn handle(state: &Arc<State>, request: Request) -> Response {
    call(&mut stack(state.clone()), request).await
}
