//! The platform's rules for an app folder (manifest.json, config/, app/), as far as they are
//! public: the JSON Schemas under tests/fixtures/freshworks/ (their `$comment`s cite the docs)
//! plus what a schema cannot say across files. `problems` lists every violation found.

use std::path::{Path, PathBuf};

use regex::Regex;
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every rule violation in the app folder `root`, as readable lines (empty: valid).
pub fn problems(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let files = [
        ("manifest.json", "manifest.schema.json"),
        ("config/iparams.json", "iparams.schema.json"),
        ("config/requests.json", "requests.schema.json"),
    ];
    let mut documents = Vec::new();
    for (file, schema) in files {
        match read_json(&root.join(file)) {
            Ok(document) => {
                found.extend(schema_problems(file, schema, &document));
                documents.push(document);
            }
            Err(e) => {
                found.push(e);
                documents.push(Value::Null);
            }
        }
    }
    let [manifest, iparams, requests] = <[Value; 3]>::try_from(documents).unwrap();
    found.extend(template_problems(&manifest, &iparams, &requests));
    found.extend(placement_problems(root, &manifest));
    found.extend(code_problems(root));
    if root.join("config/iparams.html").exists() {
        found.push("config: use iparams.json or iparams.html, not both".into());
    }
    found
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

fn schema_problems(file: &str, schema: &str, document: &Value) -> Vec<String> {
    let schema = read_json(&repo().join("tests/fixtures/freshworks").join(schema)).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    validator
        .iter_errors(document)
        .map(|e| format!("{file}: {} at '{}'", e, e.instance_path()))
        .collect()
}

fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Template names match between manifest and requests.json; substitutions are where the
/// platform allows them for front-end invocations (fp3 request-method-docs, "Support of
/// context substitution"): context in path/query only; non-secure iparams in host, path,
/// query and headers; secure iparams in headers only. Hosts are FQDNs.
fn template_problems(manifest: &Value, iparams: &Value, requests: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let declared = keys(&manifest["modules"]["common"]["requests"]);
    let defined = keys(requests);
    for name in declared.iter().filter(|n| !defined.contains(n)) {
        found.push(format!(
            "Request template '{name}' is not defined in config/requests.json"
        ));
    }
    for name in defined.iter().filter(|n| !declared.contains(n)) {
        found.push(format!(
            "request template '{name}' is not declared in manifest.json modules.common.requests"
        ));
    }
    let placeholder = Regex::new(r"<%=\s*(.*?)\s*%>").unwrap();
    let reference =
        Regex::new(r"^(?:encode\(\s*)?(context|iparam)\.([A-Za-z0-9_]+)\s*\)?$").unwrap();
    for (name, template) in requests.as_object().into_iter().flatten() {
        let schema = &template["schema"];
        let mut fields = vec![
            ("host", schema["host"].clone()),
            ("path", schema["path"].clone()),
        ];
        for (part, kind) in [("query", "query"), ("headers", "header")] {
            for (_, value) in schema[part].as_object().into_iter().flatten() {
                fields.push((kind, value.clone()));
            }
        }
        for (field, text) in fields {
            let text = text.as_str().unwrap_or("");
            for caps in placeholder.captures_iter(text) {
                let Some(parts) = reference.captures(&caps[1]) else {
                    found.push(format!(
                        "{name}.{field}: unsupported substitution {:?}",
                        &caps[0]
                    ));
                    continue;
                };
                let (source, key) = (&parts[1], &parts[2]);
                if source == "context" && !matches!(field, "path" | "query") {
                    found.push(format!(
                        "{name}.{field}: context.{key} is only substituted in path and query"
                    ));
                }
                if source == "iparam" {
                    let declared = &iparams[key];
                    if declared.is_null() {
                        found.push(format!(
                            "{name}.{field}: iparam {key} is not in iparams.json"
                        ));
                    } else if declared["secure"] == true && field != "header" {
                        found.push(format!(
                            "{name}.{field}: secure iparam {key} may only be used in headers"
                        ));
                    }
                }
            }
        }
        found.extend(host_problems(name, schema["host"].as_str().unwrap_or("")));
    }
    found
}

fn host_problems(name: &str, host: &str) -> Vec<String> {
    let literal = Regex::new(r"<%=.*?%>").unwrap().replace_all(host, "x");
    let mut found = Vec::new();
    if host.contains("://") || literal.contains('/') {
        found.push(format!(
            "{name}.host: {host:?} must be a host name, without protocol or path"
        ));
    }
    let ip = Regex::new(r"^\d{1,3}(\.\d{1,3}){3}(:\d+)?$").unwrap();
    if ip.is_match(&literal) || literal.starts_with('[') || literal == "localhost" {
        found.push(format!(
            "{name}.host: {host:?} is an IP address or localhost, not an FQDN"
        ));
    }
    found
}

/// Placement pages and icons exist under app/; icons are 64x64 SVGs.
fn placement_problems(root: &Path, manifest: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (module, body) in manifest["modules"].as_object().into_iter().flatten() {
        for (place, placement) in body["location"].as_object().into_iter().flatten() {
            for attribute in ["url", "icon"] {
                let Some(file) = placement[attribute].as_str() else {
                    continue;
                };
                let path = root.join("app").join(file);
                if !path.is_file() {
                    found.push(format!(
                        "{module}.{place}.{attribute}: app/{file} not found"
                    ));
                } else if attribute == "icon" {
                    found.extend(icon_problem(&path).map(|p| format!("app/{file}: {p}")));
                }
            }
        }
    }
    found
}

fn icon_problem(path: &Path) -> Option<String> {
    if path.extension().and_then(|e| e.to_str()) != Some("svg") {
        return Some("the icon should be an SVG".into());
    }
    let svg = std::fs::read_to_string(path).ok()?;
    let tag = Regex::new(r"(?s)<svg\b[^>]*>")
        .unwrap()
        .find(&svg)?
        .as_str()
        .to_string();
    let size = |name: &str| {
        Regex::new(&format!(r#"\b{name}="(\d+(?:\.\d+)?)(?:px)?""#))
            .unwrap()
            .captures(&tag)
            .map(|c| c[1].to_string())
    };
    match (size("width"), size("height")) {
        (Some(w), Some(h)) if w == "64" && h == "64" => None,
        (w, h) => Some(format!(
            "Invalid dimension of icon: {w:?}x{h:?}, expected 64x64"
        )),
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// What `fdk validate` lints in app code: no UNPKG (an error), no eval/alert (errors), no direct
/// HTTP from the page (`no-non-client-request-model`: use the request method); pages load the
/// client through `{{{appclient}}}` and reference files that exist.
/// (https://developers.freshworks.com/docs/guides/submission-guidelines/app-validation)
fn code_problems(root: &Path) -> Vec<String> {
    let app = root.join("app");
    let mut found = Vec::new();
    let direct_http =
        Regex::new(r"\bfetch\s*\(|XMLHttpRequest|\bnew\s+WebSocket\b|\$\.ajax\b").unwrap();
    let forbidden = Regex::new(r"\beval\s*\(|\balert\s*\(").unwrap();
    let local_ref = Regex::new(r#"(?:src|href)="([^"{:#]+)""#).unwrap();
    for file in files_under(&app) {
        let name = file.strip_prefix(root).unwrap().display().to_string();
        let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(extension, "html" | "js" | "css") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.to_lowercase().contains("unpkg.com") {
            found.push(format!("{name}: Avoid using UNPKG CDN"));
        }
        if extension != "css" && direct_http.is_match(&text) {
            found.push(format!(
                "{name}: direct HTTP from the page (no-non-client-request-model): use client.request.invokeTemplate"
            ));
        }
        if extension != "css" && forbidden.is_match(&text) {
            found.push(format!(
                "{name}: eval/alert are lint errors (no-eval, no-alert)"
            ));
        }
        if extension == "html" {
            if !text.contains(r#"src="{{{appclient}}}""#) {
                found.push(format!(
                    "{name}: does not load the client with {{{{{{appclient}}}}}}"
                ));
            }
            for caps in local_ref.captures_iter(&text) {
                if !file.parent().unwrap().join(&caps[1]).is_file() {
                    found.push(format!("{name}: {} not found", &caps[1]));
                }
            }
        }
    }
    found
}
