//! No Docker engine runs here, so `docker-compose.yml` and the `Dockerfile` are kept honest by
//! parsing them: the services and their wiring, a pinned Qdrant image with a health check, declared
//! volumes, and every `DESKDRAFT_*` variable they set is one deskdraft's configuration accepts.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_yaml_ng::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compose() -> Value {
    let text = std::fs::read_to_string(repo().join("docker-compose.yml")).expect("compose file");
    let mut value: Value =
        serde_yaml_ng::from_str(&text).expect("docker-compose.yml is valid YAML");
    value.apply_merge().expect("merge keys resolve");
    value
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Sequence(items) => items.iter().map(text).collect::<Vec<_>>().join(" "),
        other => serde_yaml_ng::to_string(other).unwrap_or_default(),
    }
}

/// `${NAME:-default}` / `${NAME:?message}` / `${NAME}` as a value the config can parse.
fn substitute(value: &str) -> String {
    let re = regex::Regex::new(r"\$\{([A-Z_]+)(?::([-?])([^}]*))?\}").unwrap();
    re.replace_all(value, |c: &regex::Captures| {
        match (c.get(2).map(|m| m.as_str()), c.get(3)) {
            (Some("-"), Some(default)) => default.as_str().to_string(),
            _ => match &c[1] {
                "FRESHDESK_DOMAIN" => "acme".to_string(),
                _ => "value-long-enough-for-a-secret".to_string(),
            },
        }
    })
    .into_owned()
}

#[test]
fn compose_wires_qdrant_serve_sync_and_an_optional_llm() {
    let compose = compose();
    let services = &compose["services"];
    for name in ["qdrant", "deskdraft", "sync", "ollama"] {
        assert!(services.get(name).is_some(), "service {name} missing");
    }
    let qdrant_image = text(&services["qdrant"]["image"]);
    assert!(
        regex::Regex::new(r"^qdrant/qdrant:v1\.19\.\d+$")
            .unwrap()
            .is_match(&qdrant_image),
        "Qdrant must be pinned to a 1.19 release (the version the store suites ran on): {qdrant_image}"
    );
    assert!(services["qdrant"]["healthcheck"]["test"].is_sequence());
    assert_eq!(
        text(&services["deskdraft"]["depends_on"]["qdrant"]["condition"]),
        "service_healthy"
    );
    assert_eq!(text(&services["deskdraft"]["command"]), "serve");
    assert!(text(&services["sync"]["command"]).contains("deskdraft ingest --freshdesk"));
    assert_eq!(text(&services["ollama"]["profiles"]), "llm");
    assert_eq!(
        text(&services["deskdraft"]["environment"]["DESKDRAFT_STORE__URL"]),
        "http://qdrant:6334",
        "gRPC port of the qdrant service"
    );

    // Every named volume a service mounts is declared.
    let declared: BTreeSet<String> = compose["volumes"]
        .as_mapping()
        .expect("volumes")
        .keys()
        .map(text)
        .collect();
    for (name, service) in services.as_mapping().unwrap() {
        for mount in service["volumes"].as_sequence().into_iter().flatten() {
            let source = text(mount).split(':').next().unwrap().to_string();
            if !source.starts_with('.') && !source.starts_with('/') {
                assert!(
                    declared.contains(&source),
                    "{}: volume {source} not declared",
                    text(name)
                );
            }
        }
    }
}

#[test]
// figment's test Jail returns its large error type by design.
#[allow(clippy::result_large_err)]
fn every_deskdraft_setting_in_compose_and_the_dockerfile_is_accepted_by_the_config() {
    let compose = compose();
    let mut settings: Vec<(String, String)> = Vec::new();
    for service in ["deskdraft", "sync", "replicas"] {
        for (key, value) in compose["services"][service]["environment"]
            .as_mapping()
            .unwrap()
        {
            settings.push((text(key), substitute(&text(value))));
        }
    }
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    for found in regex::Regex::new(r"(DESKDRAFT_[A-Z_]+)=(\S+)")
        .unwrap()
        .captures_iter(&dockerfile)
    {
        settings.push((found[1].to_string(), found[2].to_string()));
    }
    assert!(
        dockerfile.contains("scripts/fetch-model.sh"),
        "the image fetches its model"
    );
    assert!(settings.len() > 10);
    // Secrets are read where they are used, not by the config loader.
    let secrets = [
        "DESKDRAFT_FRESHDESK_API_KEY",
        "DESKDRAFT_LLM_API_KEY",
        "DESKDRAFT_WEBHOOK_SECRET",
        "DESKDRAFT_REVIEW_TOKEN",
        "DESKDRAFT_QUEUE_URL",
    ];
    figment::Jail::expect_with(|jail| {
        for (key, value) in &settings {
            if key != "DESKDRAFT_LOG" && !secrets.contains(&key.as_str()) {
                jail.set_env(key, value);
            }
        }
        jail.set_env("DESKDRAFT_FRESHDESK_API_KEY", "secret");
        let config = deskdraft::config::Config::load(None)
            .map_err(|e| figment::Error::from(e.to_string()))?;
        assert_eq!(
            config.store.backend,
            deskdraft::config::StoreBackend::Qdrant
        );
        assert_eq!(config.serve.listen, "0.0.0.0:8080");
        assert_eq!(config.freshdesk.domain.as_deref(), Some("acme"));
        Ok(())
    });
}

#[test]
fn the_replicas_profile_runs_three_serve_replicas_on_a_healthy_postgres() {
    let compose = compose();
    let services = &compose["services"];
    let (postgres, replicas) = (&services["postgres"], &services["replicas"]);
    assert!(
        regex::Regex::new(r"^postgres:\d+\.\d+$")
            .unwrap()
            .is_match(&text(&postgres["image"])),
        "PostgreSQL pinned to a release: {}",
        text(&postgres["image"])
    );
    assert!(text(&postgres["healthcheck"]["test"]).contains("pg_isready"));
    for service in [postgres, replicas] {
        assert_eq!(text(&service["profiles"]), "replicas");
    }
    assert_eq!(replicas["deploy"]["replicas"].as_u64(), Some(3));
    assert_eq!(text(&replicas["command"]), "serve");
    assert_eq!(
        text(&replicas["depends_on"]["postgres"]["condition"]),
        "service_healthy"
    );
    let environment = &replicas["environment"];
    assert_eq!(text(&environment["DESKDRAFT_QUEUE__BACKEND"]), "postgres");
    let url = substitute(&text(&environment["DESKDRAFT_QUEUE_URL"]));
    assert!(
        url.starts_with("postgres://deskdraft:") && url.ends_with("@postgres:5432/deskdraft"),
        "the queue URL names the postgres service and its database: {url}"
    );
    deskdraft::config::check_queue_url(&url, "DESKDRAFT_QUEUE_URL").unwrap();
    // The store is shared too (a server): replicas keep nothing of their own on disk.
    assert_eq!(text(&environment["DESKDRAFT_STORE__BACKEND"]), "qdrant");
}

/// The dev profile is what tests, the demo and `cargo bench --profile dev` run: the embedding hot
/// loops (our crate) must be optimised and dependencies built without debug assertions, or the
/// model runs several times slower. `cargo add`/`cargo remove` once silently dropped this section.
#[test]
fn the_dev_profile_optimises_the_embedding_hot_loops() {
    let text = std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml");
    let manifest: toml::Value = toml::from_str(&text).expect("Cargo.toml parses");
    let packages = &manifest["profile"]["dev"]["package"];
    let own = packages
        .get("deskdraft")
        .and_then(|p| p.get("opt-level"))
        .and_then(toml::Value::as_integer);
    assert!(
        own.is_some_and(|level| level >= 2),
        "[profile.dev.package.deskdraft] opt-level >= 2 is missing"
    );
    let dependencies = &packages["*"];
    assert_eq!(
        dependencies
            .get("opt-level")
            .and_then(toml::Value::as_integer),
        Some(3)
    );
    assert_eq!(
        dependencies
            .get("debug-assertions")
            .and_then(toml::Value::as_bool),
        Some(false)
    );
    assert_eq!(
        dependencies
            .get("overflow-checks")
            .and_then(toml::Value::as_bool),
        Some(false)
    );
}
