//! The audit filter (kube-apiserver's `WithAudit`): once the service below has answered, whoever
//! answered (a refusing filter or a handler), the event is recorded with the user, the
//! impersonator and the annotations the filters added ([`crate::audit`]). Without an audit log
//! it costs nothing but a check.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tower::{Layer, Service};

use super::context::{Answered, Ctx};
use crate::api::response::Response;
use crate::audit::{Outcome, Times};
use crate::state::State;

/// Adds [`WithAudit`] to a stack.
#[derive(Debug, Clone)]
pub struct AuditLayer {
    state: Arc<State>,
}

impl AuditLayer {
    /// Records to `state`'s audit log, if it has one.
    pub fn new(state: Arc<State>) -> Self {
        AuditLayer { state }
    }
}

impl<S> Layer<S> for AuditLayer {
    type Service = WithAudit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithAudit { inner, state: self.state.clone() }
    }
}

/// Records each request's audit event after the service below answered.
#[derive(Debug, Clone)]
pub struct WithAudit<S> {
    inner: S,
    state: Arc<State>,
}

impl<S> Service<Ctx> for WithAudit<S>
where
    S: Service<Ctx, Response = Answered, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Recorded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut ctx: Ctx) -> Self::Future {
        ctx.audited = self.state.audit.is_some();
        let state = ctx.audited.then(|| self.state.clone());
        let received = state.as_ref().map(|s| s.now());
        Recorded { answer: self.inner.call(ctx), state, received }
    }
}

/// The answer of [`WithAudit`]: the response, once its event is recorded.
#[derive(Debug)]
pub struct Recorded<F> {
    answer: F,
    /// The state with the audit log; `None` when there is none (or once recorded).
    state: Option<Arc<State>>,
    /// When the request arrived (with an audit log).
    received: Option<time::OffsetDateTime>,
}

impl<F> Future for Recorded<F>
where
    F: Future<Output = Result<Answered, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Ok(Answered { ctx, user, response }) = ready!(Pin::new(&mut this.answer).poll(cx));
        if let Some(state) = this.state.take() {
            if let Some(log) = &state.audit {
                let (user, impersonated_by) = match user {
                    Some(u) => (Some(u.user), u.impersonated_by),
                    None => (None, None),
                };
                let outcome = Outcome { user, impersonated_by, annotations: ctx.annotations };
                let completed = state.now();
                let times = Times { received: this.received.unwrap_or(completed), completed };
                log.record(times, &ctx.request, &ctx.info, &outcome, &response, ctx.panicked);
            }
        }
        Poll::Ready(Ok(response))
    }
}
