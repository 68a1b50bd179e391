//! nginx as the run starts it: (d) a plain reverse proxy, (e)
//! `auth_request` to a separate auth service, (f) `auth_request` to
//! Portero; its ports and its configuration.

use std::path::Path;

pub(crate) struct NginxPorts {
    /// (d) plain proxy.
    pub(crate) plain: u16,
    /// (e) auth_request to the auth service below.
    pub(crate) auth: u16,
    /// The separate auth service (e) asks: its own server, 200 at once.
    pub(crate) auth_service: u16,
    /// (f) auth_request to Portero's `/.portero/auth`.
    pub(crate) via_portero: u16,
    pub(crate) upstream: u16,
    pub(crate) portero: u16,
}

pub(crate) fn nginx_config(
    prefix: &Path,
    workers: usize,
    connections: usize,
    n: &NginxPorts,
) -> String {
    let p = prefix.display();
    // Idle upstream connections kept per worker: at least one per wrk
    // connection, so the pools never close and reopen under load.
    let keepalive = connections.max(32);
    let NginxPorts {
        plain,
        auth,
        auth_service,
        via_portero,
        upstream,
        portero,
    } = n;
    format!(
        r#"# Written by examples/loadtest: nginx as a plain reverse proxy (d), with
# auth_request to a separate auth service (e), and with auth_request to
# Portero (f); upstream keep-alive everywhere.
#
# A proxy_set_header in a location drops every inherited proxy_set_header,
# so each location below lists all of its own (Connection "" included).
worker_processes {workers};
worker_rlimit_nofile 20000;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {p}/body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    keepalive_requests 1000000;
    upstream panel {{
        server 127.0.0.1:{upstream};
        keepalive {keepalive};
        keepalive_requests 1000000;
    }}
    upstream auth_service {{
        server 127.0.0.1:{auth_service};
        keepalive {keepalive};
        keepalive_requests 1000000;
    }}
    upstream portero {{
        server 127.0.0.1:{portero};
        keepalive {keepalive};
        keepalive_requests 1000000;
    }}

    # (d) plain reverse proxy.
    server {{
        listen 127.0.0.1:{plain};
        location / {{
            proxy_pass http://panel;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}

    # The separate auth service (e) asks: answers 200 at once, with the
    # identity the panel is to see.
    server {{
        listen 127.0.0.1:{auth_service};
        location / {{
            add_header X-Portero-User "ana@load.test";
            add_header X-Portero-Account "load.test";
            add_header X-Portero-Permissions "technical,invite";
            return 200;
        }}
    }}

    # (e) the pattern Portero replaces: auth_request to the auth service,
    # then the panel, with the identity the auth service answered.
    server {{
        listen 127.0.0.1:{auth};
        location = /_auth {{
            internal;
            proxy_pass http://auth_service;
            proxy_http_version 1.1;
            proxy_pass_request_body off;
            proxy_set_header Connection "";
            proxy_set_header Content-Length "";
            proxy_set_header Host $host;
            proxy_set_header X-Original-URI $request_uri;
        }}
        location / {{
            auth_request /_auth;
            auth_request_set $auth_user $upstream_http_x_portero_user;
            auth_request_set $auth_account $upstream_http_x_portero_account;
            auth_request_set $auth_permissions $upstream_http_x_portero_permissions;
            proxy_pass http://panel;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Portero-User $auth_user;
            proxy_set_header X-Portero-Account $auth_account;
            proxy_set_header X-Portero-Permissions $auth_permissions;
        }}
    }}

    # (f) auth_request to Portero's /.portero/auth.
    server {{
        listen 127.0.0.1:{via_portero};
        location = /.portero/auth {{
            internal;
            proxy_pass http://portero;
            proxy_http_version 1.1;
            proxy_pass_request_body off;
            proxy_set_header Connection "";
            proxy_set_header Content-Length "";
            proxy_set_header Host $host;
            proxy_set_header X-Original-URI $request_uri;
        }}
        location / {{
            auth_request /.portero/auth;
            auth_request_set $portero_user $upstream_http_x_portero_user;
            auth_request_set $portero_account $upstream_http_x_portero_account;
            auth_request_set $portero_permissions $upstream_http_x_portero_permissions;
            auth_request_set $portero_assertion $upstream_http_x_portero_assertion;
            proxy_pass http://panel;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Portero-User $portero_user;
            proxy_set_header X-Portero-Account $portero_account;
            proxy_set_header X-Portero-Permissions $portero_permissions;
            proxy_set_header X-Portero-Assertion $portero_assertion;
        }}
    }}
}}
"#
    )
}
