//! One order for one host (RFC 8555 §7.4): the challenge of the kind
//! chosen is put up (on this node, and in the shared store for the other
//! nodes), the CA is told it is ready, and once the order is ready a new
//! key's CSR is sent and the chain fetched. instant-acme speaks the
//! protocol; rcgen makes the key and the CSR.

use super::challenge::{Challenge, Pending};
use crate::config::AcmeChallenge;
use crate::store::{Store, StoredChallenge};
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewOrder, OrderStatus, RetryPolicy,
};
use std::time::Duration;

/// How long the CA has to validate and issue, polled with backoff.
const POLL: RetryPolicy = RetryPolicy::new()
    .initial_delay(Duration::from_millis(500))
    .backoff(1.5)
    .timeout(Duration::from_secs(90));

/// The longest one order may take, validation and issuance included.
pub const ORDER_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a challenge shared through the store is answered at most.
const CHALLENGE_LIFE: u64 = 600;

/// On a shared store: how long the ordering node waits, after putting its
/// challenge in the store, for the other nodes to read it (they do every
/// second) before telling the CA to validate.
const SHARE_DELAY: Duration = Duration::from_millis(2500);

/// How many times one order is started when the CA refuses a request's
/// nonce every time instant-acme tries it (it retries each request twice;
/// CAs reject some nonces on purpose, Pebble 5 %).
const ATTEMPTS: u32 = 3;

/// Why an order failed, and whether starting it again at once may help.
struct Failure {
    text: String,
    /// The CA refused a nonce (`badNonce`): nothing was wrong with the order.
    bad_nonce: bool,
}

impl From<String> for Failure {
    fn from(text: String) -> Failure {
        Failure {
            text,
            bad_nonce: false,
        }
    }
}

/// Maps an instant-acme error of step `what` to a [`Failure`].
fn failed(what: &'static str) -> impl FnOnce(instant_acme::Error) -> Failure {
    move |e| Failure {
        text: format!("{what}: {}", problem(&e)),
        bad_nonce: matches!(&e, instant_acme::Error::Api(p)
            if p.r#type.as_deref() == Some("urn:ietf:params:acme:error:badNonce")),
    }
}

/// A certificate just issued: its PEM chain and PEM private key.
#[derive(Debug)]
pub struct Obtained {
    /// The chain, leaf first.
    pub chain: String,
    /// Its private key (PKCS#8).
    pub private_key: String,
}

/// Where the challenges of an order are put up.
pub struct Posting<'a> {
    /// This node's answers.
    pub pending: &'a Pending,
    /// The store, when it is shared with other nodes (PostgreSQL).
    pub shared: Option<&'a Store>,
    /// Now, for the shared challenges' end.
    pub now: u64,
}

/// Orders a certificate for `host`, proving it with `kind`. An order the
/// CA failed only by refusing nonces is started again, at most
/// [`ATTEMPTS`] times.
pub async fn obtain(
    account: &Account,
    host: &str,
    kind: AcmeChallenge,
    posting: &Posting<'_>,
) -> Result<Obtained, String> {
    let mut attempt = 1;
    loop {
        match obtain_once(account, host, kind, posting).await {
            Err(f) if f.bad_nonce && attempt < ATTEMPTS => {
                tracing::info!(
                    host,
                    attempt,
                    "acme: the CA refused a nonce ({}); ordering again",
                    f.text
                );
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            outcome => return outcome.map_err(|f| f.text),
        }
    }
}

async fn obtain_once(
    account: &Account,
    host: &str,
    kind: AcmeChallenge,
    posting: &Posting<'_>,
) -> Result<Obtained, Failure> {
    let identifiers = [Identifier::Dns(host.to_string())];
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(failed("the CA refused the order"))?;
    let mut posted = Vec::new();
    let outcome = tokio::time::timeout(
        ORDER_TIMEOUT,
        prove_and_finish(&mut order, host, kind, posting, &mut posted),
    )
    .await
    .unwrap_or_else(|_| {
        Err(Failure::from(format!(
            "no certificate within {} s",
            ORDER_TIMEOUT.as_secs()
        )))
    });
    for token in posted {
        posting.pending.remove(&token);
        if let Some(store) = posting.shared {
            if let Err(e) = store.acme_remove_challenge(&token).await {
                tracing::warn!(
                    host,
                    "acme: a finished challenge stays in the store until it runs out: {e}"
                );
            }
        }
    }
    outcome
}

async fn prove_and_finish(
    order: &mut instant_acme::Order,
    host: &str,
    kind: AcmeChallenge,
    posting: &Posting<'_>,
    posted: &mut Vec<String>,
) -> Result<Obtained, Failure> {
    let challenge_type = match kind {
        AcmeChallenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
        AcmeChallenge::Http01 => ChallengeType::Http01,
    };
    let mut ready = Vec::new();
    {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(failed("the authorization"))?;
            match authz.status {
                AuthorizationStatus::Valid => continue,
                AuthorizationStatus::Pending => {}
                other => return Err(format!("the authorization is {other:?}").into()),
            }
            let challenge = authz
                .challenge(challenge_type.clone())
                .ok_or_else(|| format!("the CA offers no {} challenge", kind.name()))?;
            let c = Challenge {
                token: challenge.token.clone(),
                host: host.to_string(),
                kind,
                key_authorization: challenge.key_authorization().as_str().to_string(),
            };
            posting.pending.add(&c).map_err(Failure::from)?;
            posted.push(c.token.clone());
            if let Some(store) = posting.shared {
                let row = StoredChallenge {
                    token: c.token.clone(),
                    host: c.host.clone(),
                    kind: kind.name().to_string(),
                    key_authorization: c.key_authorization.clone(),
                };
                store
                    .acme_add_challenge(&row, posting.now + CHALLENGE_LIFE, posting.now)
                    .await
                    .map_err(|e| format!("sharing the challenge: {e}"))?;
            }
            ready.push(challenge.url.clone());
        }
    }
    if ready.is_empty() {
        tracing::debug!(host, "acme: the CA holds a valid authorization already");
    } else {
        if posting.shared.is_some() {
            tokio::time::sleep(SHARE_DELAY).await;
        }
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(failed("the authorization"))?;
            if authz.status != AuthorizationStatus::Pending {
                continue;
            }
            if let Some(mut challenge) = authz.challenge(challenge_type.clone()) {
                challenge
                    .set_ready()
                    .await
                    .map_err(failed("the CA did not take the challenge"))?;
            }
        }
    }
    let status = order
        .poll_ready(&POLL)
        .await
        .map_err(failed("validation"))?;
    if status != OrderStatus::Ready {
        return Err(format!(
            "validation failed: {}",
            why_invalid(order)
                .await
                .unwrap_or_else(|| format!("the order is {status:?}"))
        )
        .into());
    }
    let key = rcgen::KeyPair::generate().map_err(|e| format!("a key: {e}"))?;
    let mut params = rcgen::CertificateParams::new(vec![host.to_string()])
        .map_err(|e| format!("the CSR: {e}"))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params
        .serialize_request(&key)
        .map_err(|e| format!("the CSR: {e}"))?;
    order
        .finalize_csr(csr.der())
        .await
        .map_err(failed("the CA did not finalize the order"))?;
    let chain = order
        .poll_certificate(&POLL)
        .await
        .map_err(failed("fetching the certificate"))?;
    Ok(Obtained {
        chain,
        private_key: key.serialize_pem(),
    })
}

/// The CA's reason an authorization failed (its challenge's error).
async fn why_invalid(order: &mut instant_acme::Order) -> Option<String> {
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let Ok(mut authz) = authz else { continue };
        let Ok(state) = authz.refresh().await else {
            continue;
        };
        if let Some(e) = state.challenges.iter().find_map(|c| c.error.as_ref()) {
            return Some(describe(e));
        }
    }
    None
}

/// An instant-acme error in words, the CA's problem document first.
fn problem(e: &instant_acme::Error) -> String {
    match e {
        instant_acme::Error::Api(p) => describe(p),
        other => other.to_string(),
    }
}

/// A problem document in words: its detail and type.
fn describe(p: &instant_acme::Problem) -> String {
    let detail = p.detail.as_deref().unwrap_or("no detail");
    match p.r#type.as_deref() {
        Some(t) => format!("{detail} ({t})"),
        None => detail.to_string(),
    }
}
