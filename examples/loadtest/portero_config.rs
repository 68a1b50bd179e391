//! Portero as the run starts it: its configuration (one tenant in front
//! of the upstream) and a real session cookie sealed with its key.

use crate::SESSION_KEY;
use portero::auth::AuthMethod;
use portero::session::{Sealer, SessionClaims};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Portero's configuration: one tenant in front of the upstream, `/static/`
/// bypassed, one member; `threads` in `[server]`.
pub(crate) fn portero_config(
    port: u16,
    admin: u16,
    threads: usize,
    up_port: u16,
    pem: &Path,
) -> String {
    format!(
        r#"# Written by examples/loadtest.
[server]
listen = ["127.0.0.1:{port}"]
admin_listen = "127.0.0.1:{admin}"
threads = {threads}
trusted_proxies = ["127.0.0.1/32"]
grace_period = "1s"

[session]
keys = ["{SESSION_KEY}"]

[assertion]
signing_key = "file:{pem}"
ttl = "60s"

[[tenant]]
name = "load"
hosts = ["127.0.0.1", "localhost"]
upstream = "127.0.0.1:{up_port}"
super_admins = ["root@load.test"]
bypass_paths = ["/static/"]
account = "load.test"

[[tenant.member]]
user = "ana@load.test"
account = "load.test"
permissions = ["technical", "invite"]
name = "Ana Load"

[tenant.external_sso]
url = "http://127.0.0.1:9/sso"
jwt_key = "a-load-test-secret-that-is-32-bytes-long"
"#,
        pem = pem.display()
    )
}

/// A real session cookie, sealed with the configured key.
pub(crate) fn session_cookie() -> Result<String, String> {
    let sealer = Sealer::from_base64_keys(&[SESSION_KEY]).map_err(|e| e.to_string())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = SessionClaims::for_tests(
        "load",
        "ana@load.test",
        Some("Ana Load"),
        AuthMethod::Jwt,
        now,
        "loadtest-session-0001",
    );
    Ok(format!(
        "portero_session={}",
        claims.seal(&sealer).ok_or("cannot seal a session")?
    ))
}
