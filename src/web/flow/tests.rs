//! The flow on its own, driven by a made-up protocol whose verifier
//! accepts whatever it is told to: each step of [`finish`] (taken once,
//! this tenant's, this browser's, verified, claimed once) refuses what it
//! must, whatever the protocol.

use super::*;
use crate::auth::UnclaimedLogin;
use crate::lang::Lang;

const NOW: u64 = 1_800_000_000;

/// A protocol that exists only here: its answer says who signed in, under
/// which one-time id, and whether its "signature" is good.
struct Fake;

struct FakeAnswer {
    state: Option<&'static str>,
    once: &'static str,
    good: bool,
    nonce: &'static str,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct FakeData {
    nonce: String,
}

impl Protocol for Fake {
    type Idp = ();
    type Data = FakeData;
    type Answer = FakeAnswer;
    type Refusal = &'static str;
    const NAMES: Names = Names {
        kind: "fake",
        cookie: "portero_fake",
        path: "/.portero/fake",
        ..Names::EXAMPLE
    };

    fn idp(_: &Tenant) -> Option<&()> {
        Some(&())
    }
    fn read(_: &State, _: &Config, _: &Tenant, _: &Seen<'_>) -> Result<FakeAnswer, Reply> {
        Err(Reply::empty(400))
    }
    fn names(answer: &FakeAnswer) -> Option<&str> {
        answer.state
    }
    fn takes_unsolicited(_: &()) -> bool {
        false
    }
    async fn verify<'a>(
        ctx: Ctx<'a>,
        _: &'a (),
        answer: &'a FakeAnswer,
        started: Option<&'a Started<FakeData>>,
    ) -> Result<UnclaimedLogin, Refusal<&'static str>> {
        if !answer.good {
            return Err(Refusal::Verifier("bad_signature"));
        }
        if started.is_some_and(|s| s.data().nonce != answer.nonce) {
            return Err(Refusal::Verifier("nonce"));
        }
        Ok(UnclaimedLogin::for_tests(
            &ctx.tenant.name,
            "ana@t.test",
            answer.once,
        ))
    }
    fn reason(refusal: &Refusal<&'static str>) -> Reason {
        Reason::label(match refusal {
            Refusal::UnknownOrUsed => "unknown_or_used",
            Refusal::OfAnotherTenant => "of_another_tenant",
            Refusal::NotThisBrowser => "not_this_browser",
            Refusal::NotStartedHere => "not_started_here",
            Refusal::Replayed => "replayed",
            Refusal::Verifier(why) => why,
        })
    }
    fn refused_page(
        _: &Tenant,
        _: i18n::Lang,
        _: &Refusal<&'static str>,
        reason: &Reason,
        _: &FakeAnswer,
    ) -> Reply {
        Reply::text(403, reason.label)
    }
}

fn state() -> (State, tempfile::TempDir) {
    State::for_tests(NOW)
}

/// Starts sign-in `id` for `tenant` as the flow keeps it.
async fn started(state: &State, tenant: &str, id: &str) {
    let record = serde_json::json!({
        "tenant": tenant, "state": id, "return_to": "/after", "nonce": "n1"
    });
    state
        .onetime
        .keep_started(&format!("fake:{id}"), record.to_string(), LIVES_FOR, NOW)
        .await
        .unwrap();
}

fn answer(state: Option<&'static str>, once: &'static str) -> FakeAnswer {
    FakeAnswer {
        state,
        once,
        good: true,
        nonce: "n1",
    }
}

/// Finishes `answer` in a browser holding the flow cookies `cookies`: the
/// status and the body (a refusal's label) or the `Location`.
async fn finish_in(state: &State, answer: FakeAnswer, cookies: &[&str]) -> (u16, String) {
    let cfg = state.config();
    let tenant = &cfg.tenants[0];
    let answered = Answered::<Fake> {
        answer,
        flow_cookies: cookies.iter().map(|c| c.to_string()).collect(),
        visitor: Visitor {
            client_ip: [192, 0, 2, 1].into(),
            tls: false,
            lang: Lang::En,
        },
    };
    let reply = finish(state, &cfg, (tenant, 0), answered).await;
    let header = |name: &str| {
        reply
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.to_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    // Whatever happened, the browser's flow cookie is ended.
    assert!(
        header("set-cookie")
            .iter()
            .any(|c| c.starts_with("portero_fake=;")),
        "{:?}",
        header("set-cookie")
    );
    if reply.status == 302 {
        let session = cfg.session.session_name(false).to_string();
        assert!(header("set-cookie")
            .iter()
            .any(|c| c.starts_with(&format!("{session}="))));
        return (302, header("location").concat());
    }
    (
        reply.status,
        String::from_utf8_lossy(&reply.body).to_string(),
    )
}

#[tokio::test]
async fn a_started_sign_in_finishes_once() {
    let (state, _dir) = state();
    started(&state, "t", "s1").await;
    let first = finish_in(&state, answer(Some("s1"), "a1"), &["s1"]).await;
    assert_eq!(first, (302, "/after".to_string()));
    let again = finish_in(&state, answer(Some("s1"), "a2"), &["s1"]).await;
    assert_eq!(again, (403, "unknown_or_used".to_string()));
}

#[tokio::test]
async fn another_tenants_started_sign_in_is_refused() {
    let (state, _dir) = state();
    started(&state, "u", "s1").await;
    let r = finish_in(&state, answer(Some("s1"), "a1"), &["s1"]).await;
    assert_eq!(r, (403, "of_another_tenant".to_string()));
}

#[tokio::test]
async fn a_sign_in_started_in_another_browser_is_refused() {
    let (state, _dir) = state();
    started(&state, "t", "s1").await;
    let r = finish_in(&state, answer(Some("s1"), "a1"), &["s9"]).await;
    assert_eq!(r, (403, "not_this_browser".to_string()));
    // Taken out all the same: the rightful browser cannot be raced into
    // a second answer either.
    let r = finish_in(&state, answer(Some("s1"), "a1"), &["s1"]).await;
    assert_eq!(r, (403, "unknown_or_used".to_string()));
}

#[tokio::test]
async fn an_answer_naming_nothing_is_not_unsolicited() {
    let (state, _dir) = state();
    let r = finish_in(&state, answer(None, "a1"), &[]).await;
    assert_eq!(r, (403, "not_started_here".to_string()));
    let r = finish_in(&state, answer(None, "a1"), &["s1"]).await;
    assert_eq!(r, (403, "unknown_or_used".to_string()));
    let r = finish_in(&state, answer(Some("nothing"), "a1"), &["nothing"]).await;
    assert_eq!(r, (403, "unknown_or_used".to_string()));
}

#[tokio::test]
async fn the_verifier_sees_the_started_sign_in_and_may_refuse() {
    let (state, _dir) = state();
    started(&state, "t", "s1").await;
    let bad = FakeAnswer {
        good: false,
        ..answer(Some("s1"), "a1")
    };
    assert_eq!(
        finish_in(&state, bad, &["s1"]).await,
        (403, "bad_signature".to_string())
    );
    started(&state, "t", "s2").await;
    let other_nonce = FakeAnswer {
        nonce: "n2",
        ..answer(Some("s2"), "a2")
    };
    assert_eq!(
        finish_in(&state, other_nonce, &["s2"]).await,
        (403, "nonce".to_string())
    );
}

#[tokio::test]
async fn a_one_time_id_claimed_before_is_a_replay() {
    let (state, _dir) = state();
    started(&state, "t", "s1").await;
    started(&state, "t", "s2").await;
    let first = finish_in(&state, answer(Some("s1"), "same"), &["s1"]).await;
    assert_eq!(first.0, 302);
    // A second started sign-in answered with the same assertion.
    let replay = finish_in(&state, answer(Some("s2"), "same"), &["s2"]).await;
    assert_eq!(replay, (403, "replayed".to_string()));
}
