//! Test harness: a real upstream on 127.0.0.1 that echoes what it received,
//! the real `portero` binary started on free ports, a raw HTTP/1.1 client
//! (so spoofed headers reach Portero exactly as written), and real keys.
#![allow(dead_code)]

pub mod mail;
pub mod oidc;
pub mod pebble;
/// A real PostgreSQL server (the same launcher the store's unit tests use).
#[path = "../../src/store/pg_server.rs"]
pub mod pg;
pub mod redis;
pub mod saml;
pub mod simplesamlphp;

mod binary;
mod http;
mod signin;
mod upstream;
pub use binary::*;
pub use http::*;
pub use signin::*;
pub use upstream::*;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const SESSION_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const EXT_SECRET: &str = "an-external-sso-secret-of-32-bytes-or-more";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
