//! The layer around a stand-in service, with local deciders: what passes, what is refused and
//! with which outcome, what the inner service sees.

use std::convert::Infallible;

use http_body_util::BodyExt;
use kauth::authz::{Authorizer, Reason, Rules, Target};
use kauth::user::UserInfo;
use tower::{Layer, Service};

use super::*;
use crate::authentication::AuthenticationOptions;
use crate::decide::Local;

/// Allows `get` on `/ok` only.
struct OnlyOk;

impl Authorizer for OnlyOk {
    fn authorize(&self, a: &Attributes) -> Decision {
        match &a.target {
            Target::NonResource { path } if path == "/ok" && a.verb == "get" => Decision::Allow(Reason::None),
            _ => Decision::NoOpinion(Reason::None),
        }
    }
    fn rules_for(&self, _: &UserInfo, _: &str) -> Rules {
        Rules::default()
    }
}

/// Answers with who it saw and the identity headers that reached it.
#[derive(Clone)]
struct Echo;

impl Service<http::Request<()>> for Echo {
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, r: http::Request<()>) -> Self::Future {
        let user = r.extensions().get::<Authenticated>().map_or("-".to_owned(), |a| a.user.name.clone());
        let forged = r.headers().get("x-remote-user").map_or("-", |v| v.to_str().unwrap_or("?")).to_owned();
        std::future::ready(Ok(http::Response::new(Full::new(Bytes::from(format!("{user} {forged}"))))))
    }
}

fn layer(anonymous: bool) -> DelegatingLayer {
    let authenticator =
        DelegatingAuthenticator::new(AuthenticationOptions { anonymous, ..Default::default() }).unwrap();
    DelegatingLayer::builder(authenticator, Arc::new(Local(OnlyOk)))
        .clock(Arc::new(|| OffsetDateTime::UNIX_EPOCH))
        .build()
}

fn call(l: &DelegatingLayer, path: &str) -> (u16, String, Outcome) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
    rt.block_on(async {
        let req = http::Request::builder().uri(path).header("X-Remote-User", "system:admin").body(()).unwrap();
        let resp = l.layer(Echo).call(req).await.unwrap();
        let status = resp.status().as_u16();
        let outcome = resp.extensions().get::<Outcome>().cloned().unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned(), outcome)
    })
}

#[test]
fn allowed_requests_carry_the_user_and_never_the_forged_header() {
    let (status, body, outcome) = call(&layer(true), "/ok");
    assert_eq!((status, body.as_str()), (200, "system:anonymous -"));
    assert!(matches!(outcome, Outcome::Allowed));
}

#[test]
fn always_allowed_paths_pass_unjudged_and_stripped() {
    let (status, body, outcome) = call(&layer(false), "/healthz");
    assert_eq!((status, body.as_str()), (200, "- -"));
    assert!(matches!(outcome, Outcome::AlwaysAllowed));
}

#[test]
fn refusals_are_kubernetes_status_with_the_precise_outcome() {
    let (status, body, outcome) = call(&layer(false), "/ok");
    assert_eq!(status, 401);
    assert!(body.contains(r#""message":"Unauthorized""#), "{body}");
    assert!(matches!(outcome, Outcome::Unauthenticated(kauth::authn::Rejection::AnonymousDisabled)));
    let (status, body, outcome) = call(&layer(true), "/other");
    assert_eq!(status, 403);
    assert!(body.contains(r#""message":"forbidden: User \"system:anonymous\" cannot get path \"/other\"""#), "{body}");
    assert!(body.contains(r#""details":{}"#), "{body}");
    assert!(matches!(outcome, Outcome::Forbidden(..)));
}

#[test]
fn a_replaced_authenticator_judges_the_next_requests() {
    let l = layer(false);
    assert_eq!(call(&l, "/ok").0, 401);
    l.replace_authenticator(
        DelegatingAuthenticator::new(AuthenticationOptions { anonymous: true, ..Default::default() }).unwrap(),
    );
    assert_eq!(call(&l, "/ok").0, 200);
}
