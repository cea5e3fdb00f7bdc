//! Sign-in, sign-out and the review console's action forms (approve, edit-then-approve, reject).
//! Login with the review token sets an HttpOnly, SameSite=Strict session cookie; every form
//! carries a CSRF token bound to the session. After an action the agent lands on the next draft
//! of the list they were working through (`console/`), told what happened.

use axum::Form;
use axum::extract::{ConnectInfo, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::ServeState;
use super::api::{ApprovalError, ApproveBody, approve};
use super::auth::{SESSION_COOKIE, current_session, same_site_request, secure_cookies};
use super::console::ConsoleQuery;
use super::console::layout_plain as plain;

fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

fn page(title: &str, body: &str) -> Html<String> {
    plain(title, body)
}

pub async fn login_page() -> Html<String> {
    page(
        "deskdraft: sign in",
        "<h2>Sign in to review drafts</h2><form method=\"post\" action=\"/login\" class=\"actions\">\
         <label class=\"field\" for=\"token\">Review token <input class=\"input\" type=\"password\" name=\"token\" id=\"token\" autocomplete=\"current-password\" autofocus></label> \
         <button class=\"btn btn--primary\" type=\"submit\" id=\"sign-in\">Sign in</button></form>",
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
}

/// How long a review-page session lasts (server-side; the cookie says the same).
const SESSION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// `; Secure` when deskdraft is reached over https.
fn secure_flag(state: &ServeState, headers: &HeaderMap) -> &'static str {
    if secure_cookies(state.settings.public_url.as_deref(), headers) {
        "; Secure"
    } else {
        ""
    }
}

/// Signs in with the review token: a server-side session (revocable, expiring) with its own
/// CSRF token. Wrong tokens are throttled per client address and overall.
pub async fn login(State(state): State<ServeState>, request: Request) -> Response {
    let address = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let headers = request.headers().clone();
    if let Err(wait) = state.login_throttle.check(address) {
        tracing::warn!(
            ?address,
            "review page: sign-ins throttled after repeated wrong tokens"
        );
        let seconds = wait.as_secs().max(1).to_string();
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, seconds)],
            page(
                "deskdraft: sign in",
                "<h2>Sign in</h2><p>Too many wrong tokens: try again in a few minutes.</p>",
            ),
        )
            .into_response();
    }
    let Ok(Form(form)) = Form::<LoginForm>::from_request(request, &state).await else {
        return (StatusCode::BAD_REQUEST, "expected a form with the token").into_response();
    };
    if !state.review_token.matches(&form.token) {
        state.login_throttle.failed(address);
        tracing::warn!("review page: sign-in with a wrong token");
        return (
            StatusCode::UNAUTHORIZED,
            page(
                "deskdraft: sign in",
                "<h2>Sign in</h2><p>Wrong token.</p><p><a href=\"/login\">Try again</a></p>",
            ),
        )
            .into_response();
    }
    let session = match state.queue.create_session(SESSION_LIFETIME).await {
        Ok(session) => session,
        Err(error) => {
            tracing::error!(%error, "review page: could not start a session");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again shortly").into_response();
        }
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        session.cookie,
        SESSION_LIFETIME.as_secs(),
        secure_flag(&state, &headers)
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// Ends the session on the server (the cookie alone no longer opens anything).
pub async fn logout(
    State(state): State<ServeState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some(session) = current_session(&state.queue, &headers).await
        && same_site_request(
            &headers,
            &session.csrf,
            Some(&form.csrf),
            state.settings.public_url.as_deref(),
        )
        && let Err(error) = state.queue.revoke_session(&session.cookie).await
    {
        tracing::error!(%error, "review page: could not end a session");
        return (StatusCode::SERVICE_UNAVAILABLE, "try again shortly").into_response();
    }
    let cookie = format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        secure_flag(&state, &headers)
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

#[derive(Deserialize)]
pub struct ApproveForm {
    csrf: String,
    text: String,
    /// The approving agent's Freshdesk email: the reply goes out in their name.
    #[serde(default)]
    agent_email: String,
    /// `keep`, `pending` or `resolved`.
    #[serde(default)]
    status: String,
    /// The console's filter the agent was working in (a query string).
    #[serde(default)]
    back: String,
}

/// Remembers the agent's email between approvals (not a secret; the session cookie is).
const AGENT_COOKIE: &str = "deskdraft_agent_email";

pub(crate) fn agent_email_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == AGENT_COOKIE)
        .map(|(_, value)| value.replace("%40", "@"))
        .filter(|value| value.contains('@'))
}

#[derive(Deserialize)]
pub struct RejectForm {
    csrf: String,
    reason: String,
    #[serde(default)]
    back: String,
}

/// Where an agent goes after acting on a draft: the next draft of the list they were in (the
/// filter re-parsed, so nothing but a filter gets through), told what happened; the list itself
/// when the draft was its last.
async fn after_action(
    state: &ServeState,
    id: &str,
    ticket_id: i64,
    back: &str,
    done: &str,
) -> String {
    let kept = serde_urlencoded_query(back).filter_only();
    let next = state
        .queue
        .neighbours(&kept.filter(), id)
        .await
        .ok()
        .and_then(|place| place.next);
    let landing = ConsoleQuery {
        done: Some(done.to_string()),
        ticket: Some(ticket_id),
        from: next.is_none().then(|| id.to_string()),
        ..kept
    }
    .to_query_string();
    match next {
        Some(next) => format!("/drafts/{next}?{landing}"),
        None => format!("/?{landing}"),
    }
}

fn serde_urlencoded_query(text: &str) -> ConsoleQuery {
    let pairs: serde_json::Map<String, serde_json::Value> =
        url::form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| {
                let value = match k.as_ref() {
                    "page" | "ticket" => v
                        .parse::<u64>()
                        .map(serde_json::Value::from)
                        .unwrap_or(serde_json::Value::Null),
                    _ => serde_json::Value::String(v.into_owned()),
                };
                (k.into_owned(), value)
            })
            .collect();
    serde_json::from_value(serde_json::Value::Object(pairs)).unwrap_or_default()
}

/// A live session and its CSRF token both required for a form post.
async fn form_allowed(state: &ServeState, headers: &HeaderMap, csrf: &str) -> bool {
    current_session(&state.queue, headers)
        .await
        .is_some_and(|session| session.csrf.as_bytes().ct_eq(csrf.as_bytes()).into())
}

pub async fn approve_form(
    State(state): State<ServeState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ApproveForm>,
) -> Response {
    if !form_allowed(&state, &headers, &form.csrf).await {
        return (StatusCode::FORBIDDEN, "missing session or CSRF token").into_response();
    }
    let agent_email = Some(form.agent_email.trim().to_string()).filter(|e| !e.is_empty());
    let body = ApproveBody {
        text: Some(form.text.replace("\r\n", "\n")),
        by: agent_email.clone().or_else(|| Some("review page".into())),
        agent_id: None,
        agent_email: agent_email.clone(),
        status: match form.status.as_str() {
            "pending" | "resolved" => Some(serde_json::Value::String(form.status.clone())),
            _ => None,
        },
    };
    match approve(&state, &id, body).await {
        Ok(outcome) => {
            let to = after_action(
                &state,
                &id,
                outcome.draft().ticket_id,
                &form.back,
                "approved",
            )
            .await;
            let remember = agent_email
                .map(|email| {
                    format!(
                        "{AGENT_COOKIE}={}; SameSite=Strict; Path=/; Max-Age=31536000",
                        email.replace('@', "%40").replace([';', ',', ' '], "")
                    )
                })
                .unwrap_or_default();
            if remember.is_empty() {
                Redirect::to(&to).into_response()
            } else {
                ([(header::SET_COOKIE, remember)], Redirect::to(&to)).into_response()
            }
        }
        Err(ApprovalError(status, message)) => {
            (status, page("deskdraft", &escape(&message))).into_response()
        }
    }
}

pub async fn reject_form(
    State(state): State<ServeState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<RejectForm>,
) -> Response {
    if !form_allowed(&state, &headers, &form.csrf).await {
        return (StatusCode::FORBIDDEN, "missing session or CSRF token").into_response();
    }
    if form.reason.trim().is_empty() {
        return (StatusCode::BAD_REQUEST, "a reason is required").into_response();
    }
    match state
        .queue
        .reject(&id, form.reason.trim(), "review page")
        .await
    {
        Ok(rejected) => {
            let to = after_action(&state, &id, rejected.ticket_id, &form.back, "rejected").await;
            Redirect::to(&to).into_response()
        }
        Err(e) => (
            StatusCode::CONFLICT,
            page("deskdraft", &escape(&e.to_string())),
        )
            .into_response(),
    }
}
