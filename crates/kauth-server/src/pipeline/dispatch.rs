//! The bottom of the stack: an authorized request goes to its handler, resource requests to
//! [`handlers::crud`] (which routes reviews and TokenRequest on), the rest to
//! [`handlers::discovery`]. Handlers are synchronous and cheap: the answer is ready when `call`
//! returns (requests that may wait on the store were moved to the blocking pool above).

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use tower::Service;

use super::authorization::Authorized;
use super::context::{Answered, Authenticated};
use crate::api::request_info::RequestInfo;
use crate::handlers;
use crate::state::State;

/// Calls the handler of each authorized request.
#[derive(Debug, Clone)]
pub struct Dispatch {
    state: Arc<State>,
}

impl Dispatch {
    /// Handles requests on `state`.
    pub fn new(state: Arc<State>) -> Self {
        Dispatch { state }
    }
}

impl Service<Authorized> for Dispatch {
    type Response = Answered;
    type Error = Infallible;
    type Future = Ready<Result<Answered, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, authorized: Authorized) -> Self::Future {
        let Authenticated { ctx, user } = authorized.into_inner();
        let response = match &ctx.info {
            RequestInfo::Resource(r) => handlers::crud::handle_resource(&self.state, &ctx.request, r, &user.user),
            RequestInfo::NonResource { verb, .. } => {
                handlers::discovery::handle_non_resource(&self.state, &ctx.request, verb)
            }
        };
        ready(Ok(Answered { ctx, user: Some(user), response }))
    }
}
