//! End-to-end tests of running Portero: stopping, zero-downtime upgrade,
//! reloads, `check`, configuration values from the environment, `explain` as docs/routing.md shows it, metrics and
//! logs, connection handling and memory, several nodes over Redis and over PostgreSQL, TLS/SNI, streaming, panels that fail, and
//! invitation mails through a real SMTP server, certificates from an ACME CA
//! (Pebble).

#[path = "../common/mod.rs"]
mod common;

mod acme_certificates;
mod config_check;
mod config_from_env;
mod config_reload;
mod lean_connections;
mod listen_address_taken;
mod mail_delivery;
mod many_nodes_redis;
mod operations_metrics_logs;
mod routing_doc;
mod several_nodes_postgres;
mod stopping;
mod streaming_bodies;
mod tenants_dir;
mod tls_sni;
mod upstream_down;
mod zero_downtime_upgrade;
