//! What Portero reads off every request: the client address behind
//! X-Forwarded-For, the host, the decision path, Accept and
//! Accept-Language. Never a panic; a peer that is not a trusted proxy is
//! never replaced by what its header says.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portero::facts::{accepts_html, client_ip, decision_path, request_host, Authority};
use portero::web::i18n::Lang;
use portero_policy::NetmaskSet;
use std::net::IpAddr;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(net) = "127.0.0.0/8".parse::<ipnet::IpNet>() else { return };
    let trusted = NetmaskSet::new(vec![net]);
    let parts: Vec<&str> = text.split('\n').collect();
    let proxy: IpAddr = [127, 0, 0, 1].into();
    let _ = client_ip(proxy, &parts, &trusted);
    let stranger: IpAddr = [192, 0, 2, 1].into();
    assert_eq!(client_ip(stranger, &parts, &trusted), stranger);
    let _ = request_host(Some(&text), None);
    let _ = request_host(None, Some(&text));
    // One spelling per host: the normalised form reads back as itself.
    if let Ok(a) = Authority::parse(&text) {
        assert_eq!(Authority::parse(a.as_str()).as_ref(), Ok(&a));
        assert!(a.host().starts_with('[') || !a.host().contains([':', '@']), "{a}");
    }
    if let Ok(p) = decision_path(&text) {
        assert!(!p.contains("/../") && !p.contains("/..;") && !p.contains('\\'), "{p}");
    }
    let _ = accepts_html(Some(&text), None);
    let _ = Lang::from_accept_language(Some(&text));
});
