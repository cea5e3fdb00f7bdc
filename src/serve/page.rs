//! The review page at `/`: server-rendered HTML (no build step) listing pending drafts with their
//! ticket, text (editable), sources with age, flags and confidence, with approve, edit-then-approve
//! and reject forms; feedback statistics on top. Login with the review token sets an HttpOnly,
//! SameSite=Strict session cookie; every form carries a CSRF token bound to the session.

use axum::Form;
use axum::extract::{ConnectInfo, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::ServeState;
use super::api::{ApprovalError, ApproveBody, approve};
use super::auth::{SESSION_COOKIE, current_session, same_site_request, secure_cookies};
use crate::draft::render::describe_age;
use crate::queue::{DraftRecord, DraftStatus, FeedbackStats};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1d2733}\
h1{font-size:1.4rem}.draft{border:1px solid #ccd5df;border-radius:8px;padding:1rem;margin:1rem 0}\
textarea{width:100%;min-height:9rem;font:inherit}.flags li{color:#8a4b00}.meta{color:#5b6b7b;font-size:.9rem}\
.stats{display:flex;gap:2rem;background:#f3f6f9;padding:.8rem 1rem;border-radius:8px}\
button{margin-right:.5rem}.reject input{width:24rem}";

fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

fn attribute(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    ))
}

pub async fn login_page() -> Html<String> {
    page(
        "deskdraft: sign in",
        "<h1>deskdraft review</h1><form method=\"post\" action=\"/login\">\
         <label>Review token <input type=\"password\" name=\"token\" id=\"token\" autofocus></label> \
         <button type=\"submit\" id=\"sign-in\">Sign in</button></form>",
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
                "<h1>deskdraft review</h1><p>Too many wrong tokens: try again in a few minutes.</p>",
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
                "<h1>deskdraft review</h1><p>Wrong token.</p><p><a href=\"/login\">Try again</a></p>",
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

fn stats_block(stats: &FeedbackStats) -> String {
    let percent = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.0}%", v * 100.0));
    let mut per_product = String::new();
    for (product, feedback) in &stats.per_product {
        per_product.push_str(&format!(
            "<li>{}: {} approved, {} rejected, acceptance {}, edits {}</li>",
            escape(product),
            feedback.approved,
            feedback.rejected,
            percent(feedback.acceptance_rate),
            percent(feedback.mean_edit_distance)
        ));
    }
    format!(
        "<div class=\"stats\" id=\"stats\"><div><b>{}</b> pending</div><div><b>{}</b> approved ({} unedited)</div>\
         <div><b>{}</b> rejected</div><div>acceptance <b>{}</b></div><div>mean edit <b>{}</b></div></div>{}",
        stats.pending,
        stats.approved,
        stats.approved_unedited,
        stats.rejected,
        percent(stats.acceptance_rate),
        percent(stats.mean_edit_distance),
        if per_product.is_empty() {
            String::new()
        } else {
            format!("<ul class=\"meta\">{per_product}</ul>")
        }
    )
}

fn draft_block(draft: &DraftRecord, csrf: &str, agent_email: &str) -> String {
    let flags: String = draft.draft["flags"]
        .as_array()
        .map(|flags| {
            flags
                .iter()
                .filter_map(|f| f.as_str())
                .map(|f| format!("<li>{}</li>", escape(f)))
                .collect()
        })
        .unwrap_or_default();
    let sources: String = draft.draft["sources"]
        .as_array()
        .map(|sources| {
            sources
                .iter()
                .map(|s| {
                    let title = escape(s["title"].as_str().unwrap_or(""));
                    let key = escape(s["key"].as_str().unwrap_or(""));
                    let age = describe_age(s["age_days"].as_i64());
                    match s["url"].as_str().filter(|u| u.starts_with("http")) {
                        Some(url) => format!(
                            "<li><a href=\"{}\" rel=\"noopener noreferrer\">{title}</a> [{key}] ({age})</li>",
                            attribute(url)
                        ),
                        None => format!("<li>{title} [{key}] ({age})</li>"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let id = attribute(&draft.id);
    format!(
        "<div class=\"draft\" id=\"draft-{id}\"><div class=\"meta\">Ticket #{} · {} · confidence {:.2}</div>\
         <form method=\"post\" action=\"/drafts/{id}/approve\" class=\"approve\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><textarea name=\"text\">{}</textarea><br>\
         <label>Send as (your Freshdesk email) <input type=\"email\" name=\"agent_email\" value=\"{}\"></label> \
         <label>Then set the ticket <select name=\"status\"><option value=\"keep\">status unchanged</option>\
         <option value=\"pending\">Pending</option><option value=\"resolved\">Resolved</option></select></label><br>\
         <button type=\"submit\" class=\"approve-button\">Approve and send</button></form>{}\
         {}{}\
         <form method=\"post\" action=\"/drafts/{id}/reject\" class=\"reject\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input name=\"reason\" placeholder=\"Why is this draft wrong?\" required> \
         <button type=\"submit\" class=\"reject-button\">Reject</button></form></div>",
        draft.ticket_id,
        escape(&draft.kind),
        draft.confidence,
        escape(&draft.draft_text),
        attribute(agent_email),
        draft
            .send_error
            .as_deref()
            .map(|e| format!("<p class=\"send-error\"><b>Not sent:</b> {}</p>", escape(e)))
            .unwrap_or_default(),
        if flags.is_empty() {
            String::new()
        } else {
            format!("<p><b>Check before sending</b></p><ul class=\"flags\">{flags}</ul>")
        },
        if sources.is_empty() {
            String::new()
        } else {
            format!("<p><b>Sources</b></p><ul>{sources}</ul>")
        },
    )
}

pub async fn review_page(State(state): State<ServeState>, headers: HeaderMap) -> Response {
    let Some(session) = current_session(&state.queue, &headers).await else {
        return Redirect::to("/login").into_response();
    };
    let csrf = attribute(&session.csrf);
    let (drafts, stats) = match (
        state.queue.drafts(Some(DraftStatus::Pending)).await,
        state.queue.feedback().await,
    ) {
        (Ok(drafts), Ok(stats)) => (drafts, stats),
        (Err(e), _) | (_, Err(e)) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                page("deskdraft", &escape(&e.to_string())),
            )
                .into_response();
        }
    };
    let mut body = format!(
        "<h1>deskdraft review</h1><form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button>Sign out</button></form>{}",
        stats_block(&stats)
    );
    if drafts.is_empty() {
        body.push_str("<p id=\"empty\">No drafts waiting for review.</p>");
    }
    let agent_email = agent_email_cookie(&headers).unwrap_or_default();
    for draft in &drafts {
        body.push_str(&draft_block(draft, &csrf, &agent_email));
    }
    page("deskdraft review", &body).into_response()
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
}

/// Remembers the agent's email between approvals (not a secret; the session cookie is).
const AGENT_COOKIE: &str = "deskdraft_agent_email";

fn agent_email_cookie(headers: &HeaderMap) -> Option<String> {
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
        Ok(_) => {
            let remember = agent_email
                .map(|email| {
                    format!(
                        "{AGENT_COOKIE}={}; SameSite=Strict; Path=/; Max-Age=31536000",
                        email.replace('@', "%40").replace([';', ',', ' '], "")
                    )
                })
                .unwrap_or_default();
            if remember.is_empty() {
                Redirect::to("/").into_response()
            } else {
                ([(header::SET_COOKIE, remember)], Redirect::to("/")).into_response()
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
        Ok(_) => Redirect::to("/").into_response(),
        Err(e) => (
            StatusCode::CONFLICT,
            page("deskdraft", &escape(&e.to_string())),
        )
            .into_response(),
    }
}
