//! Stand-in of the Freshworks platform around a front-end app, for browser tests of
//! `freshdesk-app/`: serves the app's pages with `{{{appclient}}}` replaced by the stand-in client
//! (`freshworks_client/client.js`), answers that client's data and iparams calls, and plays the
//! platform's request proxy: `client.request.invokeTemplate(name, {context, body})` posts here,
//! and the template of `config/requests.json` is rendered and sent server-side, as the platform
//! does (https://developers.freshworks.com/docs/app-sdk/v3.0/support_ticket/advanced-interfaces/request-method/).
//!
//! Substitution follows the documented rules for a front-end invocation
//! (freshworks-developers/freshworks-platform3, references "Support of context substitution"):
//! `context.*` only in `path` and `query`; non-secure `iparam.*` in `host`, `path`, `query` and
//! headers; secure iparams only in headers; anything else is a 400, like a substitution failure.
//! Retries follow `options.maxAttempts`/`retryDelay` (network errors, 429, 5xx); a request that
//! cannot connect answers 502 and one that times out (15 s) 504, the platform's statuses.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};

const CLIENT_JS: &str = include_str!("freshworks_client/client.js");
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// One request the proxy sent for a template (what deskdraft received).
#[derive(Debug, Clone)]
pub struct Invocation {
    pub template: String,
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub status: u16,
    pub attempts: u32,
}

#[derive(Default)]
struct PlatformState {
    iparams: BTreeMap<String, String>,
    tickets: BTreeMap<String, Value>,
    logged_in_user: Value,
    invocations: Vec<Invocation>,
}

struct Shared {
    app_root: PathBuf,
    state: Mutex<PlatformState>,
    http: reqwest::Client,
}

/// The running stand-in; stops when dropped.
pub struct Platform {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Platform {
    /// Serves the app in `app_root` (the folder holding `manifest.json`) with these iparam values.
    pub async fn start(app_root: &Path, iparams: &[(&str, &str)], logged_in_user: Value) -> Self {
        let state = PlatformState {
            iparams: iparams
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            logged_in_user,
            ..PlatformState::default()
        };
        let shared = Arc::new(Shared {
            app_root: app_root.to_path_buf(),
            state: Mutex::new(state),
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        });
        let router = Router::new()
            .route("/__freshworks/client.js", get(client_js))
            .route("/__freshworks/state", get(platform_state))
            .route("/__freshworks/invoke", post(invoke))
            .fallback(get(app_file))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self { addr, shared, task }
    }

    /// The URL of an app page, e.g. `index.html?ticket=1` (the stand-in reads `ticket`).
    pub fn url(&self, page: &str) -> String {
        format!("http://{}/{page}", self.addr)
    }

    /// A ticket `client.data.get("ticket")` can return (the page names it with `?ticket=`).
    pub fn add_ticket(&self, ticket: Value) {
        let id = ticket["id"].to_string();
        self.shared.state.lock().unwrap().tickets.insert(id, ticket);
    }

    /// Changes an installation parameter, as an admin editing the app's settings.
    pub fn set_iparam(&self, name: &str, value: &str) {
        let mut state = self.shared.state.lock().unwrap();
        state.iparams.insert(name.into(), value.into());
    }

    pub fn invocations(&self) -> Vec<Invocation> {
        self.shared.state.lock().unwrap().invocations.clone()
    }
}

async fn client_js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript")], CLIENT_JS)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Names of the secure iparams declared in `config/iparams.json`.
fn secure_iparams(app_root: &Path) -> Vec<String> {
    let declared = read_json(&app_root.join("config/iparams.json"));
    declared
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, v)| v["secure"] == true)
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct StateQuery {
    ticket: String,
}

async fn platform_state(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<StateQuery>,
) -> Response {
    let secure = secure_iparams(&shared.app_root);
    let state = shared.state.lock().unwrap();
    let Some(ticket) = state.tickets.get(&query.ticket) else {
        return (StatusCode::NOT_FOUND, "no such ticket in the stand-in").into_response();
    };
    let iparams: Map<String, Value> = state
        .iparams
        .iter()
        .filter(|(k, _)| !secure.contains(k))
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    axum::Json(json!({
        "ticket": ticket,
        "loggedInUser": state.logged_in_user,
        "iparams": iparams,
    }))
    .into_response()
}

/// Files under `app/`; HTML gets the stand-in client in place of `{{{appclient}}}`.
async fn app_file(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let relative = uri.path().trim_start_matches('/');
    let relative = if relative.is_empty() {
        "index.html"
    } else {
        relative
    };
    let path = Path::new(relative);
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let Ok(bytes) = std::fs::read(shared.app_root.join("app").join(path)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let content_type = match extension {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript",
        "css" => "text/css",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        _ => "application/octet-stream",
    };
    let body = if extension == "html" {
        String::from_utf8_lossy(&bytes)
            .replace("{{{appclient}}}", "/__freshworks/client.js")
            .into_bytes()
    } else {
        bytes
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

#[derive(Deserialize)]
struct InvokeRequest {
    name: String,
    #[serde(default)]
    context: Map<String, Value>,
    body: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Field {
    Host,
    Path,
    Query,
    Header,
}

struct Substitution<'a> {
    context: &'a Map<String, Value>,
    iparams: &'a BTreeMap<String, String>,
    secure: &'a [String],
}

impl Substitution<'_> {
    /// Renders `<%= context.x %>`, `<%= iparam.x %>` and `<%= encode(iparam.x) %>` in one field.
    fn render(&self, text: &str, field: Field) -> Result<String, String> {
        let placeholder = regex::Regex::new(
            r"<%=\s*(encode\(\s*)?(context|iparam)\.([A-Za-z0-9_]+)\s*(\))?\s*%>",
        )
        .unwrap();
        let mut error = None;
        let rendered = placeholder.replace_all(text, |caps: &regex::Captures| {
            match self.value(&caps[2], &caps[3], field) {
                Ok(value) if caps.get(1).is_some() => {
                    base64::engine::general_purpose::STANDARD.encode(value)
                }
                Ok(value) => value,
                Err(e) => {
                    error.get_or_insert(e);
                    String::new()
                }
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        if rendered.contains("<%") {
            return Err(format!("unsupported substitution in {rendered:?}"));
        }
        Ok(rendered.into_owned())
    }

    fn value(&self, source: &str, name: &str, field: Field) -> Result<String, String> {
        if source == "context" {
            if !matches!(field, Field::Path | Field::Query) {
                return Err(format!("context.{name} may only be used in path and query"));
            }
            let value = self
                .context
                .get(name)
                .ok_or_else(|| format!("context.{name} is missing"))?;
            let text = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            if field == Field::Path {
                // A context value is data, not URL structure (query values are encoded later).
                let encoded: String =
                    url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
                return Ok(encoded.replace('+', "%20"));
            }
            return Ok(text);
        }
        if self.secure.iter().any(|s| s == name) && field != Field::Header {
            return Err(format!("secure iparam {name} may only be used in headers"));
        }
        self.iparams
            .get(name)
            .cloned()
            .ok_or_else(|| format!("iparam.{name} is not set"))
    }
}

struct Prepared {
    method: reqwest::Method,
    url: String,
    headers: BTreeMap<String, String>,
    max_attempts: u32,
    retry_delay: Duration,
}

fn prepare(shared: &Shared, request: &InvokeRequest) -> Result<Prepared, String> {
    let manifest = read_json(&shared.app_root.join("manifest.json"));
    let templates = read_json(&shared.app_root.join("config/requests.json"));
    let name = &request.name;
    if manifest["modules"]["common"]["requests"]
        .get(name)
        .is_none()
    {
        return Err(format!(
            "request template '{name}' is not declared in manifest.json"
        ));
    }
    let template = templates.get(name).ok_or_else(|| {
        format!("Request template '{name}' is not defined in config/requests.json")
    })?;
    let schema = &template["schema"];
    let secure = secure_iparams(&shared.app_root);
    let iparams = shared.state.lock().unwrap().iparams.clone();
    let substitution = Substitution {
        context: &request.context,
        iparams: &iparams,
        secure: &secure,
    };
    let host = substitution.render(schema["host"].as_str().unwrap_or(""), Field::Host)?;
    let path = substitution.render(schema["path"].as_str().unwrap_or("/"), Field::Path)?;
    let mut query = Vec::new();
    for (key, value) in schema["query"].as_object().into_iter().flatten() {
        query.push((
            key.clone(),
            substitution.render(value.as_str().unwrap_or(""), Field::Query)?,
        ));
    }
    let mut headers = BTreeMap::new();
    for (key, value) in schema["headers"].as_object().into_iter().flatten() {
        let rendered = substitution.render(value.as_str().unwrap_or(""), Field::Header)?;
        headers.insert(key.clone(), rendered);
    }
    // Production templates say https. The platform allows plain HTTP only for local testing; the
    // test's deskdraft listens on loopback without TLS, so loopback hosts are reached over http.
    let loopback = host.starts_with("127.0.0.1:") || host.starts_with("localhost:");
    let scheme = if loopback { "http" } else { "https" };
    let mut url =
        url::Url::parse(&format!("{scheme}://{host}{path}")).map_err(|e| e.to_string())?;
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    let options = &template["options"];
    Ok(Prepared {
        method: schema["method"]
            .as_str()
            .unwrap_or("")
            .parse()
            .map_err(|_| "bad method".to_string())?,
        url: url.to_string(),
        headers,
        max_attempts: options["maxAttempts"].as_u64().unwrap_or(1).clamp(1, 5) as u32,
        retry_delay: Duration::from_millis(options["retryDelay"].as_u64().unwrap_or(0)),
    })
}

/// Sends the prepared request with the template's retries; `(status, headers, body, source)`.
async fn send(
    shared: &Shared,
    prepared: &Prepared,
    body: &Option<String>,
) -> (u16, Map<String, Value>, String, &'static str, u32) {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut builder = shared.http.request(prepared.method.clone(), &prepared.url);
        for (name, value) in &prepared.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = body {
            builder = builder.body(body.clone());
        }
        let outcome = match builder.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
                    .collect();
                let text = response.text().await.unwrap_or_default();
                (status, headers, text, "APP")
            }
            Err(e) => {
                let status = if e.is_timeout() { 504 } else { 502 };
                let message = json!({"message": format!("stand-in proxy: {e}")}).to_string();
                (status, Map::new(), message, "PLATFORM")
            }
        };
        let retryable = outcome.0 == 429 || outcome.0 >= 500;
        if !retryable || attempt >= prepared.max_attempts {
            return (outcome.0, outcome.1, outcome.2, outcome.3, attempt);
        }
        tokio::time::sleep(prepared.retry_delay).await;
    }
}

async fn invoke(
    State(shared): State<Arc<Shared>>,
    axum::Json(request): axum::Json<InvokeRequest>,
) -> axum::Json<Value> {
    let prepared = match prepare(&shared, &request) {
        Ok(prepared) => prepared,
        Err(message) => {
            return axum::Json(json!({
                "status": 400, "headers": {}, "attempts": 0, "errorSource": "PLATFORM",
                "response": json!({"message": message}).to_string(),
            }));
        }
    };
    let (status, headers, response, source, attempts) =
        send(&shared, &prepared, &request.body).await;
    shared.state.lock().unwrap().invocations.push(Invocation {
        template: request.name.clone(),
        method: prepared.method.to_string(),
        url: prepared.url.clone(),
        headers: prepared.headers.clone(),
        body: request.body.clone(),
        status,
        attempts,
    });
    axum::Json(json!({
        "status": status, "headers": headers, "response": response,
        "errorSource": source, "attempts": attempts,
    }))
}
