//! Learning of changes other nodes made: a PostgreSQL connection of its own
//! that `LISTEN`s on the channel every write announces its tenant on
//! (`NOTIFY` is delivered when the writer commits). When the connection is
//! lost, [`Listener::next`] ends; the caller reloads everything (what was
//! missed) and listens again, and the periodic version check covers the
//! time between.

use super::db::{pg_error, CHANNEL};
use super::StoreError;
use tokio::sync::mpsc;

/// A listening connection.
pub struct Listener {
    tenants: mpsc::UnboundedReceiver<String>,
    /// Kept so the connection stays open.
    _client: tokio_postgres::Client,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
    }
}

impl Listener {
    /// Connects and listens.
    pub(super) async fn start(
        config: &tokio_postgres::Config,
        tls: Option<&tokio_postgres_rustls::MakeRustlsConnect>,
    ) -> Result<Listener, StoreError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let client = match tls {
            Some(tls) => {
                let (client, conn) = config.connect(tls.clone()).await.map_err(pg_error)?;
                tokio::spawn(forward(conn, tx));
                client
            }
            None => {
                let (client, conn) = config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(pg_error)?;
                tokio::spawn(forward(conn, tx));
                client
            }
        };
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(pg_error)?;
        Ok(Listener {
            tenants: rx,
            _client: client,
        })
    }

    /// The next tenant another node (or this one) changed; `None` when the
    /// connection is lost.
    pub async fn next(&mut self) -> Option<String> {
        self.tenants.recv().await
    }
}

/// Drives the connection, passing on each notification's tenant.
async fn forward<S, T>(
    mut conn: tokio_postgres::Connection<S, T>,
    tenants: mpsc::UnboundedSender<String>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
            Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                if tenants.send(n.payload().to_string()).is_err() {
                    return;
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::warn!("membership store: the listening connection ended: {e}");
                return;
            }
            None => return,
        }
    }
}
