//! A second Portero started on an address a first one already listens on
//! must fail with a clear message, never share the port through
//! `SO_REUSEPORT` (which would split the traffic between two configurations
//! without anyone noticing).

use crate::common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_second_portero_on_a_taken_address_fails_instead_of_sharing_it() {
    let (_up, first) = start();
    let config = std::fs::read_to_string(first.path("portero.toml"))
        .unwrap()
        .replace(
            &format!(":{}\"", first.admin),
            &format!(":{}\"", free_port()),
        );
    let second_config = first.path("second.toml");
    std::fs::write(&second_config, config).unwrap();
    let mut second = Command::new(env!("CARGO_BIN_EXE_portero"))
        .args(["run", "--config"])
        .arg(&second_config)
        .env("PORTERO_SESSION_KEY", SESSION_KEY)
        .env("EXT_SSO_SECRET", EXT_SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("the second Portero kept running on a taken address");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{}", first.port)),
        "{stderr}"
    );
    // The first one still answers every request.
    for _ in 0..20 {
        assert!(first.send(get("panel.nomask.test", "/")).status > 0);
    }
}
