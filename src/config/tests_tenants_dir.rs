//! `tenants_dir`: each file compiled on its own, its findings at its own
//! lines; a name or host claimed twice named at both places; a reload
//! compiling again only the files that changed (and those whose read
//! files changed); a change tried before it is written.

use super::{Compiler, Config, Diagnostic, Loaded};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// A folder with `portero.toml` (the good configuration, with
/// `tenants_dir = "tenants"` and its tenant `t`) and `tenants/`.
struct Folder {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
}

impl Folder {
    fn new() -> Folder {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.pem"),
            crate::identity::generate_ed25519_pem().unwrap(),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("tenants")).unwrap();
        let main = super::for_tests::GOOD
            .replace("{DIR}", dir.path().to_str().unwrap())
            .replace("[server]\n", "[server]\ntenants_dir = \"tenants\"\n");
        std::fs::write(dir.path().join("portero.toml"), main).unwrap();
        let env = HashMap::from([(
            "K".to_string(),
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_string(),
        )]);
        Folder { dir, env }
    }

    fn main(&self) -> PathBuf {
        self.dir.path().join("portero.toml")
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join("tenants").join(name), text).unwrap();
    }

    fn load(&self, c: &mut Compiler) -> Result<Loaded, Vec<Diagnostic>> {
        c.load(&self.main(), &self.env)
    }

    fn shown(&self, findings: &[Diagnostic]) -> String {
        let out: String = findings.iter().map(|d| format!("{d}\n")).collect();
        out.replace(self.dir.path().to_str().unwrap(), "DIR")
    }
}

fn tenant(name: &str, host: &str) -> String {
    format!("[[tenant]]\nname = \"{name}\"\nhosts = [\"{host}\"]\nupstream = \"127.0.0.1:9000\"\naccount = \"{name}\"\n")
}

fn arc_of<'a>(cfg: &'a Config, name: &str) -> &'a Arc<super::Tenant> {
    &cfg.tenants[cfg.by_name[name]]
}

#[test]
fn each_file_is_compiled_with_its_own_lines() {
    let f = Folder::new();
    f.write("a.toml", &tenant("a", "a.test"));
    f.write(
        "b.toml",
        &(tenant("b", "b.test") + "netmasks = [\"10.0.0.0/99\"]\n"),
    );
    let findings = f.load(&mut Compiler::default()).unwrap_err();
    let out = f.shown(&findings);
    assert!(
        out.contains("DIR/tenants/b.toml:6: error") && out.contains("10.0.0.0/99"),
        "{out}"
    );
    // Only tenants in a tenant file.
    f.write(
        "b.toml",
        &(tenant("b", "b.test") + "[server]\nlisten = []\n"),
    );
    let out = f.shown(&f.load(&mut Compiler::default()).unwrap_err());
    assert!(
        out.contains("b.toml:6: error") && out.contains("[[tenant]] tables"),
        "{out}"
    );
    f.write("b.toml", &tenant("b", "b.test"));
    let cfg = f.load(&mut Compiler::default()).unwrap().config;
    let names: Vec<_> = cfg.tenants.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["t", "a", "b"],
        "the main file's first, then by file name"
    );
    assert!(cfg.tenant_for_host("b.test").is_some());
}

#[test]
fn a_name_or_host_claimed_twice_is_named_at_both_places() {
    let f = Folder::new();
    f.write("a.toml", &tenant("a", "shared.test"));
    f.write("b.toml", &tenant("b", "shared.test"));
    f.write("c.toml", &tenant("a", "c.test"));
    f.write("d.toml", &tenant("d", "panel.t.test"));
    let out = f.shown(&f.load(&mut Compiler::default()).unwrap_err());
    assert!(out.contains("b.toml:3: error: tenant `b`: host `shared.test` is already served by tenant `a` (DIR/tenants/a.toml:2)"), "{out}");
    assert!(out.contains("c.toml:2: error: tenant `a`: another tenant has the same name: tenant `a` (DIR/tenants/a.toml:2)"), "{out}");
    assert!(
        out.contains("d.toml:3: error") && out.contains("(DIR/portero.toml:12)"),
        "{out}"
    );
}

/// The file just changed is the one blamed, wherever it sorts.
#[test]
fn the_changed_file_is_blamed() {
    let f = Folder::new();
    f.write("z.toml", &tenant("z", "shared.test"));
    let mut c = Compiler::default();
    f.load(&mut c).unwrap();
    f.write("a.toml", &tenant("a", "shared.test"));
    let out = f.shown(&f.load(&mut c).unwrap_err());
    assert!(
        out.contains("a.toml:3: error") && out.contains("(DIR/tenants/z.toml:2)"),
        "{out}"
    );
}

#[test]
fn a_reload_compiles_again_only_what_changed() {
    let f = Folder::new();
    f.write("a.toml", &tenant("a", "a.test"));
    f.write("b.toml", &(tenant("b", "b.test") + "css = \"b.css\"\n"));
    f.write("b.css", "body { color: red }");
    let mut c = Compiler::default();
    let first = f.load(&mut c).unwrap().config;
    let again = f.load(&mut c).unwrap().config;
    assert!(Arc::ptr_eq(arc_of(&first, "a"), arc_of(&again, "a")));
    assert!(Arc::ptr_eq(arc_of(&first, "b"), arc_of(&again, "b")));
    assert!(
        Arc::ptr_eq(&first.signed, &again.signed),
        "the signed-identity cache is kept"
    );
    // The main file's tenants are always compiled again.
    assert!(!Arc::ptr_eq(arc_of(&first, "t"), arc_of(&again, "t")));

    // a.toml changed (by rename, as editors and the API write): a alone.
    let tmp = f.dir.path().join("tenants/.a.toml.tmp");
    std::fs::write(&tmp, tenant("a", "a2.test")).unwrap();
    std::fs::rename(&tmp, f.dir.path().join("tenants/a.toml")).unwrap();
    let third = f.load(&mut c).unwrap().config;
    assert!(!Arc::ptr_eq(arc_of(&again, "a"), arc_of(&third, "a")));
    assert_ne!(
        arc_of(&again, "a").generation,
        arc_of(&third, "a").generation
    );
    assert!(
        third.tenant_for_host("a2.test").is_some() && third.tenant_for_host("a.test").is_none()
    );
    assert!(Arc::ptr_eq(arc_of(&again, "b"), arc_of(&third, "b")));

    // A file b reads changed: b is compiled again.
    std::fs::remove_file(f.dir.path().join("tenants/b.css")).unwrap();
    std::fs::write(f.dir.path().join("tenants/b.css"), "body { color: blue }").unwrap();
    let fourth = f.load(&mut c).unwrap().config;
    assert!(!Arc::ptr_eq(arc_of(&third, "b"), arc_of(&fourth, "b")));
    assert_eq!(
        arc_of(&fourth, "b").css.as_deref(),
        Some("body { color: blue }")
    );

    // A removed file's tenant is gone; the [session] default moved: all.
    std::fs::remove_file(f.dir.path().join("tenants/a.toml")).unwrap();
    let main = std::fs::read_to_string(f.main()).unwrap();
    std::fs::write(
        f.main(),
        main.replace("keys = [", "reauth = \"2h\"\nkeys = ["),
    )
    .unwrap();
    let fifth = f.load(&mut c).unwrap().config;
    assert!(fifth.tenant_named("a").is_none());
    assert!(!Arc::ptr_eq(arc_of(&fourth, "b"), arc_of(&fifth, "b")));
    assert_eq!(arc_of(&fifth, "b").reauth, Some(7200));
}

#[test]
fn a_tried_change_is_compiled_but_not_written_or_kept() {
    let f = Folder::new();
    f.write("a.toml", &tenant("a", "a.test"));
    let mut c = Compiler::default();
    let now = f.load(&mut c).unwrap().config;
    let refused = c
        .change_tenant(&f.main(), &f.env, &now, "x", Some(tenant("x", "a.test")))
        .unwrap_err();
    let shown = refused
        .to_string()
        .replace(f.dir.path().to_str().unwrap(), "DIR");
    assert!(
        shown.contains("DIR/tenants/x.toml:3: error") && shown.contains("a.toml:2"),
        "{shown}"
    );
    assert!(!f.dir.path().join("tenants/x.toml").exists());
    let listed: Vec<_> = std::fs::read_dir(f.dir.path().join("tenants"))
        .unwrap()
        .collect();
    assert_eq!(listed.len(), 1, "no file left behind");
    // A good one is written and in the configuration returned.
    let loaded = c
        .change_tenant(&f.main(), &f.env, &now, "x", Some(tenant("x", "x.test")))
        .unwrap();
    assert!(loaded.config.tenant_for_host("x.test").is_some());
    assert!(f.dir.path().join("tenants/x.toml").exists());
    // And kept: the next reload does not compile it again.
    let next = f.load(&mut c).unwrap().config;
    assert!(Arc::ptr_eq(arc_of(&loaded.config, "x"), arc_of(&next, "x")));
    // Not the API's: the main file's tenant; a name that is a path.
    for name in ["t", "../t", ".x"] {
        assert!(
            c.change_tenant(&f.main(), &f.env, &next, name, None)
                .is_err(),
            "{name}"
        );
    }
    let gone = c
        .change_tenant(&f.main(), &f.env, &next, "x", None)
        .unwrap();
    assert!(gone.config.tenant_named("x").is_none());
    assert!(!f.dir.path().join("tenants/x.toml").exists());
}

#[test]
fn bodies_are_one_tenant_named_as_the_path() {
    use super::tenant_text;
    let toml = tenant("a", "a.test");
    assert_eq!(tenant_text("a", toml.as_bytes(), false).unwrap(), toml);
    assert!(tenant_text("b", toml.as_bytes(), false).is_err());
    assert!(tenant_text("a", (toml.clone() + &toml).as_bytes(), false).is_err());
    assert!(tenant_text("a", b"[server]\nlisten = []\n", false).is_err());
    let json = tenant_text(
        "a",
        br#"{"hosts":["a.test"],"upstream":"127.0.0.1:9000","account":"a"}"#,
        true,
    )
    .unwrap();
    let back: toml::Table = toml::from_str(&json).unwrap();
    assert_eq!(back["tenant"][0]["name"].as_str(), Some("a"));
    assert!(tenant_text("a", br#"{"name":"b"}"#, true).is_err());
    assert!(tenant_text("a", br#"[1]"#, true).is_err());
}

/// What the look for changes (`watch_config`) sees: a file written by
/// hand, added or removed, and the main file; not the tenant API's own
/// writes. A change through the API takes that tenant only: another file
/// edited by hand meanwhile waits for the look.
#[test]
fn a_look_for_changes_sees_hand_edits_not_the_apis_own_writes() {
    let f = Folder::new();
    f.write("a.toml", &tenant("a", "a.test"));
    let mut c = Compiler::default();
    let now = f.load(&mut c).unwrap().config;
    assert!(
        c.load_if_changed(&f.main(), &f.env).is_none(),
        "nothing changed"
    );
    // The API's write is known.
    let after_api = c
        .change_tenant(&f.main(), &f.env, &now, "x", Some(tenant("x", "x.test")))
        .unwrap()
        .config;
    assert!(
        c.load_if_changed(&f.main(), &f.env).is_none(),
        "the API's own write is not a change"
    );
    // A hand edit is; the API's next change does not take it.
    std::thread::sleep(std::time::Duration::from_millis(20));
    f.write("a.toml", &tenant("a", "a2.test"));
    let api_again = c
        .change_tenant(
            &f.main(),
            &f.env,
            &after_api,
            "x",
            Some(tenant("x", "x2.test")),
        )
        .unwrap()
        .config;
    assert!(api_again.tenant_for_host("x2.test").is_some());
    assert!(
        api_again.tenant_for_host("a2.test").is_none(),
        "a hand edit of another file is the look's, not the API's"
    );
    let looked = c
        .load_if_changed(&f.main(), &f.env)
        .expect("the hand edit is a change")
        .unwrap()
        .config;
    assert!(looked.tenant_for_host("a2.test").is_some());
    assert!(Arc::ptr_eq(arc_of(&api_again, "x"), arc_of(&looked, "x")));
    assert!(c.load_if_changed(&f.main(), &f.env).is_none());
    // A file removed, and the main file, are changes.
    std::fs::remove_file(f.dir.path().join("tenants/a.toml")).unwrap();
    let gone = c
        .load_if_changed(&f.main(), &f.env)
        .unwrap()
        .unwrap()
        .config;
    assert!(gone.tenant_named("a").is_none());
    let main = std::fs::read_to_string(f.main()).unwrap();
    std::fs::write(f.main(), main + "\n# touched\n").unwrap();
    assert!(c.load_if_changed(&f.main(), &f.env).is_some());
    // A refused change is tried once.
    f.write("b.toml", "[[tenant]]\nname = \n");
    assert!(c.load_if_changed(&f.main(), &f.env).unwrap().is_err());
    assert!(c.load_if_changed(&f.main(), &f.env).is_none());
}

/// Hundreds of files are read on a helper thread ahead of the compile:
/// each tenant is still compiled from its own file's text, a finding names
/// its own file and line, and a second reload reads only what changed.
#[test]
fn files_read_ahead_are_each_compiled_from_their_own_text() {
    let f = Folder::new();
    let n = 300;
    for i in 0..n {
        f.write(
            &format!("f{i:03}.toml"),
            &tenant(&format!("n{i}"), &format!("h{i}.test")),
        );
    }
    f.write(
        "f150.toml",
        &(tenant("n150", "h150.test") + "netmasks = [\"10.0.0.0/99\"]\n"),
    );
    let out = f.shown(&f.load(&mut Compiler::default()).unwrap_err());
    assert!(
        out.contains("DIR/tenants/f150.toml:6: error") && out.contains("10.0.0.0/99"),
        "{out}"
    );
    assert_eq!(out.matches(": error").count(), 1, "{out}");

    f.write("f150.toml", &tenant("n150", "h150.test"));
    let mut c = Compiler::default();
    let first = f.load(&mut c).unwrap().config;
    let check = |cfg: &Config| {
        for i in 0..n {
            let t = arc_of(cfg, &format!("n{i}"));
            assert!(
                t.defined_in.ends_with(format!("f{i:03}.toml")),
                "{} from {}",
                t.name,
                t.defined_in.display()
            );
            assert_eq!(t.hosts, [format!("h{i}.test")]);
        }
    };
    check(&first);
    // Every other file rewritten by rename, with another host.
    for i in (0..n).step_by(2) {
        let tmp = f.dir.path().join(format!("tenants/.f{i:03}.toml.tmp"));
        std::fs::write(&tmp, tenant(&format!("n{i}"), &format!("h{i}.test"))).unwrap();
        std::fs::rename(&tmp, f.dir.path().join(format!("tenants/f{i:03}.toml"))).unwrap();
    }
    let second = f.load(&mut c).unwrap().config;
    check(&second);
    for i in 0..n {
        let name = format!("n{i}");
        assert_eq!(
            Arc::ptr_eq(arc_of(&first, &name), arc_of(&second, &name)),
            i % 2 == 1,
            "{name}: only the files written are compiled again"
        );
    }
}

/// Reading the files is not a use: their access time stays as it was (a
/// reload after a change would otherwise write every file's inode).
#[test]
fn a_reload_leaves_the_files_access_times_alone() {
    use std::time::{Duration, SystemTime};
    let f = Folder::new();
    let path = f.dir.path().join("tenants/a.toml");
    f.write("a.toml", &tenant("a", "a.test"));
    // Read before written: a `relatime` mount would update it on a read.
    let long_ago = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_times(std::fs::FileTimes::new().set_accessed(long_ago))
        .unwrap();
    f.load(&mut Compiler::default()).unwrap();
    let accessed = std::fs::metadata(&path).unwrap().accessed().unwrap();
    assert_eq!(accessed, long_ago);
}

/// A pipe where a tenant file was listed does not hold a reload up: it is
/// opened without waiting for a writer and reads as empty.
#[test]
fn a_pipe_in_place_of_a_file_does_not_hold_the_reload_up() {
    let f = Folder::new();
    let pipe = f.dir.path().join("tenants/p.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .unwrap();
    assert!(made.success());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(super::tenant_files::read_text(&pipe, 0).map(|t| t.len()));
    });
    let read = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("the read came back");
    assert_eq!(read.unwrap(), 0);
}
