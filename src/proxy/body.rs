//! The body of an answer Portero sends: a page it made, or the panel's
//! answer streamed with a bound on how long the panel may stay silent.

use super::lean::ConnState;
use super::stop::InFlight;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// An error while streaming a body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An answer's body: a page Portero made, or the panel's, streamed.
pub struct OutBody {
    kind: Kind,
    /// The longest the panel may stay silent mid-body.
    read_timeout: Duration,
    /// Told when the body has ended ([`super::lean`]).
    lean: Option<Arc<ConnState>>,
    /// The request is in flight until its answer has gone out.
    _in_flight: Option<InFlight>,
}

enum Kind {
    Full(Option<Bytes>),
    Panel(Incoming, Option<Pin<Box<tokio::time::Sleep>>>),
}

impl OutBody {
    /// The panel's answer, streamed; cut when the panel stays silent
    /// longer than `read_timeout` mid-body.
    pub fn panel(
        body: Incoming,
        read_timeout: Duration,
        lean: Option<Arc<ConnState>>,
        in_flight: InFlight,
    ) -> OutBody {
        OutBody {
            kind: Kind::Panel(body, None),
            read_timeout,
            lean,
            _in_flight: Some(in_flight),
        }
    }

    /// A page Portero made (empty for `HEAD`), the request in flight
    /// until it has gone out.
    pub fn page(bytes: Bytes, lean: Option<Arc<ConnState>>, in_flight: InFlight) -> OutBody {
        OutBody {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
            read_timeout: Duration::ZERO,
            lean,
            _in_flight: Some(in_flight),
        }
    }

    /// A body of `bytes` (for the admin listener).
    pub fn full(bytes: Bytes) -> OutBody {
        OutBody {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
            read_timeout: Duration::ZERO,
            lean: None,
            _in_flight: None,
        }
    }
}

impl Body for OutBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let read_timeout = this.read_timeout;
        let polled = match &mut this.kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Panel(body, silence) => match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Ready(frame) => {
                    *silence = None;
                    Poll::Ready(frame.map(|f| f.map_err(BoxError::from)))
                }
                Poll::Pending => {
                    let timer =
                        silence.get_or_insert_with(|| Box::pin(tokio::time::sleep(read_timeout)));
                    match timer.as_mut().poll(cx) {
                        Poll::Ready(()) => {
                            tracing::warn!("the panel went silent mid-answer; the answer is cut");
                            Poll::Ready(Some(Err("the panel went silent mid-answer".into())))
                        }
                        Poll::Pending => Poll::Pending,
                    }
                }
            },
        };
        // The last bytes are handed over: hyper may end the message (and
        // flush it) before it polls or drops this body again.
        if polled.is_ready() && self_ended(&this.kind) {
            if let Some(lean) = &this.lean {
                lean.answered();
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self_ended(&self.kind)
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Panel(body, _) => body.size_hint(),
        }
    }
}

/// Whether nothing is left to send.
fn self_ended(kind: &Kind) -> bool {
    match kind {
        Kind::Full(b) => b.is_none(),
        Kind::Panel(body, _) => body.is_end_stream(),
    }
}

impl Drop for OutBody {
    fn drop(&mut self) {
        if let Some(lean) = &self.lean {
            lean.answered();
        }
    }
}
