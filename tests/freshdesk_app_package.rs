//! The Freshdesk app's files against the Freshworks platform's documented rules (JSON Schemas
//! under tests/fixtures/freshworks/ plus cross-file checks), broken copies of it that must fail,
//! and the package `scripts/pack-freshdesk-app.sh` builds, unpacked and validated.

#[path = "freshdesk_app_package/checks.rs"]
mod checks;

use std::io::Read;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn app() -> PathBuf {
    repo().join("freshdesk-app")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_app_in_the_repository_follows_the_platform_rules() {
    let problems = checks::problems(&app());
    assert!(problems.is_empty(), "{problems:#?}");
}

fn edit_json(root: &Path, file: &str, edit: impl FnOnce(&mut Value)) {
    let path = root.join(file);
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

fn edit_text(root: &Path, file: &str, edit: impl FnOnce(String) -> String) {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(path, edit(text)).unwrap();
}

type Breakage = (&'static str, Box<dyn Fn(&Path)>, &'static str);

fn breakages() -> Vec<Breakage> {
    vec![
        (
            "a 2.x platform version",
            Box::new(|r| edit_json(r, "manifest.json", |m| m["platform-version"] = json!("2.3"))),
            "platform-version",
        ),
        (
            "the sidebar without an icon",
            Box::new(|r| {
                edit_json(r, "manifest.json", |m| {
                    m["modules"]["support_ticket"]["location"]["ticket_sidebar"]
                        .as_object_mut()
                        .unwrap()
                        .remove("icon");
                })
            }),
            "\"icon\" is a required property",
        ),
        (
            "an unknown placement",
            Box::new(|r| {
                edit_json(r, "manifest.json", |m| {
                    let location = &mut m["modules"]["support_ticket"]["location"];
                    location["ticket_sidebarr"] = location["ticket_sidebar"].clone();
                })
            }),
            "ticket_sidebarr",
        ),
        (
            "the 2.x 'product' key",
            Box::new(|r| {
                edit_json(r, "manifest.json", |m| {
                    m["product"] = json!({"freshdesk": {}})
                })
            }),
            "product",
        ),
        (
            "a page that does not exist",
            Box::new(|r| {
                edit_json(r, "manifest.json", |m| {
                    m["modules"]["support_ticket"]["location"]["ticket_sidebar"]["url"] =
                        json!("sidebar.html")
                })
            }),
            "app/sidebar.html not found",
        ),
        (
            "a template declared but not defined",
            Box::new(|r| {
                edit_json(r, "manifest.json", |m| {
                    m["modules"]["common"]["requests"]["approve"] = json!({})
                })
            }),
            "'approve' is not defined in config/requests.json",
        ),
        (
            "a template defined but not declared",
            Box::new(|r| {
                edit_json(r, "manifest.json", |m| {
                    m["modules"]["common"]["requests"]
                        .as_object_mut()
                        .unwrap()
                        .remove("redraft");
                })
            }),
            "'redraft' is not declared in manifest.json",
        ),
        (
            "a host with its protocol",
            Box::new(|r| {
                edit_json(r, "config/requests.json", |q| {
                    q["getDraft"]["schema"]["host"] = json!("https://deskdraft.example.com")
                })
            }),
            "without protocol or path",
        ),
        (
            "an IP address as host",
            Box::new(|r| {
                edit_json(r, "config/requests.json", |q| {
                    q["getDraft"]["schema"]["host"] = json!("10.0.0.5")
                })
            }),
            "not an FQDN",
        ),
        (
            "context in a header",
            Box::new(|r| {
                edit_json(r, "config/requests.json", |q| {
                    q["redraft"]["schema"]["headers"]["X-Ticket"] =
                        json!("<%= context.ticket_id %>")
                })
            }),
            "context.ticket_id is only substituted in path and query",
        ),
        (
            "the secure token in the path",
            Box::new(|r| {
                edit_json(r, "config/requests.json", |q| {
                    q["getDraft"]["schema"]["path"] = json!(
                        "/api/tickets/<%= context.ticket_id %>/draft?token=<%= iparam.app_token %>"
                    )
                })
            }),
            "secure iparam app_token may only be used in headers",
        ),
        (
            "plain http in production",
            Box::new(|r| {
                edit_json(r, "config/requests.json", |q| {
                    q["getDraft"]["schema"]["protocol"] = json!("http")
                })
            }),
            "protocol",
        ),
        (
            "too many attempts",
            Box::new(|r| {
                edit_json(r, "config/requests.json", |q| {
                    q["getDraft"]["options"]["maxAttempts"] = json!(9)
                })
            }),
            "maxAttempts",
        ),
        (
            "an iparam type the platform lacks",
            Box::new(|r| {
                edit_json(r, "config/iparams.json", |p| {
                    p["app_token"]["type"] = json!("password")
                })
            }),
            "app_token",
        ),
        (
            "an icon that is not 64x64",
            Box::new(|r| {
                edit_text(r, "app/styles/images/icon.svg", |t| {
                    t.replacen(
                        "width=\"64px\" height=\"64px\"",
                        "width=\"32px\" height=\"32px\"",
                        1,
                    )
                })
            }),
            "Invalid dimension of icon",
        ),
        (
            "Crayons from UNPKG",
            Box::new(|r| {
                edit_text(r, "app/index.html", |t| {
                    t.replace("cdn.jsdelivr.net/npm", "unpkg.com")
                })
            }),
            "Avoid using UNPKG CDN",
        ),
        (
            "a direct fetch from the page",
            Box::new(|r| {
                edit_text(r, "app/scripts/app.js", |t| {
                    t + "\nfetch('https://deskdraft.example.com/api/stats');\n"
                })
            }),
            "no-non-client-request-model",
        ),
        (
            "the page without the app client",
            Box::new(|r| {
                edit_text(r, "app/index.html", |t| {
                    t.replace("{{{appclient}}}", "client.js")
                })
            }),
            "appclient",
        ),
    ]
}

/// Each way of breaking the app is reported, naming what is wrong.
#[test]
fn broken_copies_of_the_app_are_refused() {
    for (what, breakage, expected) in breakages() {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&app(), dir.path());
        assert!(
            checks::problems(dir.path()).is_empty(),
            "the copy is valid before: {what}"
        );
        breakage(dir.path());
        let problems = checks::problems(dir.path());
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{what}: expected a problem mentioning {expected:?}, got {problems:#?}"
        );
    }
}

/// The zip has `fdk pack`'s layout (`./`-prefixed entries: manifest, app, config, digest), its
/// digest is the md5 of the app files and manifest, and its unpacked files validate.
#[test]
fn the_packed_app_has_the_fdk_layout_and_validates() {
    let out = tempfile::tempdir().unwrap();
    let zip_path = out.path().join("deskdraft.zip");
    let status = std::process::Command::new("bash")
        .arg(repo().join("scripts/pack-freshdesk-app.sh"))
        .arg(&zip_path)
        .status()
        .expect("bash runs the pack script");
    assert!(status.success());

    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let names: Vec<String> = archive
        .file_names()
        .map(|name| name.expect("entry name").into_owned())
        .collect();
    for required in [
        "./manifest.json",
        "./config/iparams.json",
        "./config/requests.json",
        "./app/index.html",
        "./app/scripts/app.js",
        "./app/styles/images/icon.svg",
        "./digest.md5",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "{required} in {names:?}"
        );
    }
    assert!(names.iter().all(|n| n.starts_with("./")), "{names:?}");
    assert!(
        names.iter().all(|n| {
            ["./app/", "./config/"].iter().any(|p| n.starts_with(p))
                || ["./manifest.json", "./README.md", "./digest.md5"].contains(&n.as_str())
        }),
        "only what fdk pack packs: {names:?}"
    );

    let unpacked = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().expect("entry name").into_owned();
        let relative = name.trim_start_matches("./").to_string();
        assert!(!relative.contains(".."), "{relative}");
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let target = unpacked.path().join(&relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, &bytes).unwrap();
        files.push((relative, bytes));
    }
    // digest.md5: md5 over the app/ files, then manifest.json (the FDK's digest handler).
    let mut app_files: Vec<_> = files
        .iter()
        .filter(|(n, _)| n.starts_with("app/"))
        .collect();
    app_files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut md5 = Md5::new();
    for (_, bytes) in app_files {
        md5.update(bytes);
    }
    md5.update(std::fs::read(unpacked.path().join("manifest.json")).unwrap());
    let digest = std::fs::read_to_string(unpacked.path().join("digest.md5")).unwrap();
    assert_eq!(digest, hex::encode(md5.finalize()));
    // The package holds the repository's files, unchanged.
    assert_eq!(
        std::fs::read(unpacked.path().join("app/scripts/app.js")).unwrap(),
        std::fs::read(app().join("app/scripts/app.js")).unwrap()
    );

    let problems = checks::problems(unpacked.path());
    assert!(problems.is_empty(), "{problems:#?}");
}
