//! SimpleSAMLphp (Debian's `simplesamlphp`) as an IdP for the tests:
//! configured in a temporary folder, served by `php -S` on 127.0.0.1,
//! insisting on signed requests from Portero.
#![allow(dead_code)]

use super::saml::{wait_for_port, KillOnDrop, SigningKey};
use std::process::{Command, Stdio};

/// Where Debian installs SimpleSAMLphp's web root.
pub const SSP_WWW: &str = "/usr/share/simplesamlphp/www";

/// A running SimpleSAMLphp IdP with one user, `ana` / `anapass`
/// (`ana@samlco.test`, Ana Perez).
pub struct SimpleSamlPhp {
    pub port: u16,
    pub key: SigningKey,
    pub sp_key: SigningKey,
    _dir: tempfile::TempDir,
    _php: KillOnDrop,
}

impl SimpleSamlPhp {
    /// Starts it for the SP at `sp_origin` (e.g. `http://panel.samlco.test`).
    pub fn start(sp_origin: &str) -> SimpleSamlPhp {
        assert!(
            std::path::Path::new(SSP_WWW).exists(),
            "SimpleSAMLphp is missing: scripts/test.sh installs it (apt-get install simplesamlphp php-cli php-xml php-mbstring)"
        );
        let key = SigningKey::new();
        let sp_key = SigningKey::new();
        let port = super::free_port();
        let dir = tempfile::tempdir().unwrap();
        configure(dir.path(), port, &key, &sp_key, sp_origin);
        let php = KillOnDrop(
            Command::new("php")
                .arg("-d")
                .arg(format!(
                    "session.save_path={}",
                    dir.path().join("tmp").display()
                ))
                .args(["-S", &format!("127.0.0.1:{port}"), "-t", SSP_WWW])
                .env("SIMPLESAMLPHP_CONFIG_DIR", dir.path().join("config"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_for_port(port, "php -S");
        SimpleSamlPhp {
            port,
            key,
            sp_key,
            _dir: dir,
            _php: php,
        }
    }

    /// Portero's tenant section for this IdP (`{DIR}/idp.xml`,
    /// `{DIR}/sp.key`, `{DIR}/sp.crt` come from [`SimpleSamlPhp::files`]).
    pub const SAML_SECTION: &'static str = r#"
[tenant.saml]
idp_metadata = "{DIR}/idp.xml"
single_logout = true
sp_signing_key = "file:{DIR}/sp.key"
sp_certificate = "file:{DIR}/sp.crt"
[tenant.saml.attributes]
first_name = "givenName"
last_name = "sn"
"#;

    /// The files Portero's configuration names: the IdP's metadata (as an
    /// administrator downloads it) and the SP key pair.
    pub fn files(&self) -> Vec<(&'static str, String)> {
        let md = super::get(
            &format!("127.0.0.1:{}", self.port),
            "/saml2/idp/metadata.php",
        )
        .send(self.port);
        assert_eq!(md.status, 200, "{}", md.body);
        vec![
            ("idp.xml", md.body),
            (
                "sp.key",
                std::fs::read_to_string(self.sp_key.key_path()).unwrap(),
            ),
            (
                "sp.crt",
                std::fs::read_to_string(self.sp_key.cert_path()).unwrap(),
            ),
        ]
    }
}

/// SimpleSAMLphp's configuration, metadata and users in `dir`, as an IdP on
/// `port` that insists on signed AuthnRequests and LogoutRequests from
/// Portero (whose certificate is `sp`).
fn configure(dir: &std::path::Path, port: u16, key: &SigningKey, sp: &SigningKey, origin: &str) {
    for sub in ["config", "metadata", "cert", "log", "data", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::copy(key.key_path(), dir.join("cert/idp.key")).unwrap();
    std::fs::copy(key.cert_path(), dir.join("cert/idp.crt")).unwrap();
    std::fs::copy(sp.cert_path(), dir.join("cert/sp.crt")).unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("config/config.php"),
        format!(
            r#"<?php
require '/etc/simplesamlphp/config.php';
$config['baseurlpath'] = 'http://127.0.0.1:{port}/';
$config['certdir'] = '{d}/cert/';
$config['metadatadir'] = '{d}/metadata/';
$config['loggingdir'] = '{d}/log/';
$config['datadir'] = '{d}/data/';
$config['tempdir'] = '{d}/tmp/';
$config['secretsalt'] = 'portero-interop-test';
$config['auth.adminpassword'] = 'not-used-here';
$config['enable.saml20-idp'] = true;
$config['module.enable'] = ['exampleauth' => true, 'core' => true, 'saml' => true];
$config['session.cookie.secure'] = false;
$config['session.cookie.samesite'] = 'Lax';
$config['logging.handler'] = 'file';
$config['store.type'] = 'phpsession';
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("config/authsources.php"),
        r#"<?php
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => [
        'exampleauth:UserPass',
        'ana:anapass' => ['mail' => ['ana@samlco.test'], 'givenName' => ['Ana'], 'sn' => ['Perez']],
    ],
];
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("metadata/saml20-idp-hosted.php"),
        r#"<?php
$metadata['__DYNAMIC:1__'] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.crt',
    'auth' => 'example-userpass',
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    'authproc' => [
        3 => ['class' => 'saml:AttributeNameID', 'attribute' => 'mail',
              'Format' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
    ],
];
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("metadata/saml20-sp-remote.php"),
        format!(
            r#"<?php
$metadata['{origin}/.portero/saml/metadata'] = [
    'AssertionConsumerService' => [[
        'Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
        'Location' => '{origin}/.portero/saml/acs',
    ]],
    'SingleLogoutService' => [[
        'Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
        'Location' => '{origin}/.portero/saml/slo',
    ]],
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    'certificate' => 'sp.crt',
    'validate.authnrequest' => true,
    'validate.logout' => true,
];
"#
        ),
    )
    .unwrap();
}
