//! What travels through the pipeline's filters with one request. Down the stack: the request,
//! what it addresses (parsed once, [`RequestInfo`]) and the audit annotations the filters add
//! ([`Ctx`]); below authentication, the user too ([`Authenticated`]). Back up: the same context
//! with the user and the answer ([`Answered`]), so the audit filter records what every filter
//! learnt, whichever of them answered.

use std::convert::Infallible;
use std::future::{Future, Ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use kauth::user::UserInfo;

use crate::api::request::Request;
use crate::api::request_info::RequestInfo;
use crate::api::response::Response;

/// A request on its way down the stack, boxed: it moves into every filter and back up inside
/// the answer, through each filter's future, and a box makes each of those moves a pointer's
/// (the context is about 480 bytes; boxing it, with the attributes lent rather than copied in
/// `authorization.rs`, saved about 1,000 instructions of a SubjectAccessReview's 51,000 and
/// 1,350 of a GET's 39,000, BENCHMARKS.md).
pub type Ctx = Box<RequestContext>;

/// What [`Ctx`] holds.
#[derive(Debug)]
pub struct RequestContext {
    /// The request, read in full.
    pub request: Request,
    /// What it addresses, parsed once by `request_info.rs`.
    pub info: RequestInfo,
    /// Audit annotations, in the order the filters added them ([`RequestContext::annotate`]).
    pub annotations: Vec<(&'static str, String)>,
    /// Whether the request is audited: only then are annotations kept (set by the audit filter).
    pub audited: bool,
    /// Its handler panicked (recorded at the audit stage `Panic`).
    pub panicked: bool,
}

impl RequestContext {
    /// Adds the audit annotation `key` when the request is audited; `value` is only made then.
    /// Annotations have no reader but the audit event, and making them (an authorizer's reason
    /// is formatted text) was a measurable share of a request without an audit log.
    pub fn annotate(&mut self, key: &'static str, value: impl FnOnce() -> String) {
        if self.audited {
            self.annotations.push((key, value()));
        }
    }
}

/// Whom an authenticated request acts as.
#[derive(Debug, Clone)]
pub struct RequestUser {
    /// The user the request acts as.
    pub user: UserInfo,
    /// Which authenticator said so (`x509`, `token-file`, `service-account`, `anonymous`).
    pub authenticator: &'static str,
    /// The real user, when impersonating.
    pub impersonated_by: Option<UserInfo>,
}

/// A request whose user is known: what the filters below authentication take.
#[derive(Debug)]
pub struct Authenticated {
    /// The request and its annotations.
    pub ctx: Ctx,
    /// Whom it acts as.
    pub user: RequestUser,
}

/// The answer on its way back up, with the request's context.
#[derive(Debug)]
pub struct Answered {
    /// The request and its annotations.
    pub ctx: Ctx,
    /// Whom it acted as; `None` when authentication failed.
    pub user: Option<RequestUser>,
    /// The response.
    pub response: Response,
}

/// The future of a filter: answered by the filter itself (a refusal), or by the service below.
/// The service below must have an `Unpin` future (every one in the stack has; a boxed future
/// is one too), so no filter needs pin projection.
// The lint sees `F` as empty; in the stack it is the future below, which holds an `Answered`
// itself: boxing the filter's own answer would allocate and save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Answer<F> {
    /// The filter answered.
    Now(Ready<Result<Answered, Infallible>>),
    /// The service below answers.
    Below(F),
}

impl<F> Answer<F> {
    /// The filter's own answer.
    pub fn now(answered: Answered) -> Self {
        Answer::Now(std::future::ready(Ok(answered)))
    }
}

impl<F> Future for Answer<F>
where
    F: Future<Output = Result<Answered, Infallible>> + Unpin,
{
    type Output = Result<Answered, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Answer::Now(ready) => Pin::new(ready).poll(cx),
            Answer::Below(below) => Pin::new(below).poll(cx),
        }
    }
}
