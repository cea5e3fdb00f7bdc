//! One draft beside its ticket at `/drafts/{id}`: the ticket (subject, requester, product name,
//! priority, age, a link into Freshdesk, the public thread newest first), the draft in an editor
//! with approve and reject, its flags highlighted where they occur, its sources, and its
//! confidence band with the band's measured precision. Previous/next follow the queue's filter.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::highlight::highlight;
use super::layout::{Section, ago, attribute, escape, percent, plain, shell, shortcuts};
use super::names::product_label;
use super::quality::{BandQuality, band_qualities, load_summary};
use super::queue_view::{ConsoleQuery, band_badge, band_name, flash, with_query};
use crate::draft::confidence::band_of;
use crate::draft::render::describe_age;
use crate::queue::{DraftRecord, DraftStatus, QueueError, TicketContext, live_quality};
use crate::serve::ServeState;
use crate::serve::auth::current_session;

fn priority_name(priority: i64) -> String {
    match priority {
        1 => "Low".into(),
        2 => "Medium".into(),
        3 => "High".into(),
        4 => "Urgent".into(),
        other => format!("priority {other}"),
    }
}

fn ticket_status_name(status: i64) -> String {
    match status {
        2 => "Open".into(),
        3 => "Pending".into(),
        4 => "Resolved".into(),
        5 => "Closed".into(),
        other => format!("status {other}"),
    }
}

pub async fn draft_page(
    State(state): State<ServeState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<ConsoleQuery>,
) -> Response {
    let Some(session) = current_session(&state.queue, &headers).await else {
        return Redirect::to("/login").into_response();
    };
    let draft = match state.queue.draft(&id).await {
        Ok(draft) => draft,
        Err(QueueError::DraftNotFound(_)) => {
            return (
                StatusCode::NOT_FOUND,
                plain(
                    "deskdraft: no such draft",
                    "<p>No such draft.</p><p><a href=\"/\">Back to the queue</a></p>",
                ),
            )
                .into_response();
        }
        Err(error) => return unavailable(&error),
    };
    let kept = query.filter_only();
    let gathered = async {
        Ok::<_, QueueError>((
            state.queue.neighbours(&kept.filter(), &id).await?,
            state.queue.outcomes().await?,
        ))
    };
    let (place, outcomes) = match gathered.await {
        Ok(found) => found,
        Err(error) => return unavailable(&error),
    };
    let live = live_quality(&outcomes, state.target_precision);
    let summary = load_summary(state.console.report_dir.as_deref()).await;
    let qualities = band_qualities(&live, summary.as_ref());
    let names = state.console.product_names(state.read.as_ref()).await;
    let requester = match draft.ticket.as_ref().and_then(|t| t.requester_id) {
        Some(requester_id) => state
            .console
            .contact(state.read.as_ref(), requester_id)
            .await
            .map(|c| match (c.name, c.email) {
                (Some(name), Some(email)) => format!("{name} <{email}>"),
                (Some(name), None) => name,
                (None, Some(email)) => email,
                (None, None) => format!("contact {requester_id}"),
            })
            .or_else(|| Some(format!("contact {requester_id}"))),
        None => None,
    };
    let kept_query = kept.to_query_string();
    let mut main = String::new();
    if let (Some(done), Some(ticket)) = (query.done.as_deref(), query.ticket) {
        main.push_str(&flash(done, ticket));
    }
    let back = ConsoleQuery {
        from: Some(draft.id.clone()),
        ..kept.clone()
    };
    let neighbour = |target: &Option<String>, link_id: &str, label: &str| match target {
        Some(target) => format!(
            "<a class=\"btn\" id=\"{link_id}\" href=\"{}\">{label}</a>",
            attribute(&with_query(&format!("/drafts/{target}"), &kept_query))
        ),
        None => format!("<span class=\"muted\">{label}: none</span>"),
    };
    main.push_str(&format!(
        "<nav class=\"crumbs\" aria-label=\"Queue\"><a id=\"back-to-queue\" href=\"{}\">Back to the queue</a>\
         <span>Draft {} of {} in this list</span>{}{}</nav>",
        attribute(&with_query("/", &back.to_query_string())),
        place.position,
        place.total,
        neighbour(&place.previous, "draft-previous", "Previous"),
        neighbour(&place.next, "draft-next", "Next"),
    ));
    let product = product_label(&names, draft.product.as_deref());
    main.push_str("<div class=\"columns\">");
    main.push_str(&ticket_panel(
        &draft,
        &product,
        requester.as_deref(),
        state.console.ticket_url(draft.ticket_id).as_deref(),
    ));
    main.push_str(&draft_panel(
        &draft,
        &session.csrf,
        &kept_query,
        &agent_email(&headers),
        &qualities,
        summary.is_some(),
    ));
    main.push_str("</div>");
    main.push_str(&shortcuts(&[
        ("j n", "next draft"),
        ("k p", "previous draft"),
        ("e", "edit the reply (Esc leaves the editor)"),
        ("a", "approve and send (Ctrl+Enter in the editor)"),
        ("r", "reject: type the reason, then Enter"),
        ("q", "back to the queue"),
    ]));
    let title = format!("deskdraft: ticket #{}", draft.ticket_id);
    shell(&title, "draft", Section::Queue, &session.csrf, "", &main).into_response()
}

fn unavailable(error: &QueueError) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        plain(
            "deskdraft",
            &format!("<p>{}</p>", escape(&error.to_string())),
        ),
    )
        .into_response()
}

/// The agent's email remembered from their last approval.
fn agent_email(headers: &HeaderMap) -> String {
    crate::serve::page::agent_email_cookie(headers).unwrap_or_default()
}

fn ticket_panel(
    draft: &DraftRecord,
    product: &str,
    requester: Option<&str>,
    ticket_url: Option<&str>,
) -> String {
    let link = ticket_url
        .map(|url| {
            format!(
                " · <a href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\" id=\"freshdesk-link\">Open in Freshdesk</a>",
                attribute(url)
            )
        })
        .unwrap_or_default();
    let Some(ticket) = &draft.ticket else {
        return format!(
            "<section class=\"panel\" aria-labelledby=\"ticket-title\"><h2 id=\"ticket-title\">Ticket #{}</h2>\
             <dl class=\"facts\"><dt>Ticket</dt><dd>#{}{link}</dd><dt>Product</dt><dd>{}</dd></dl>\
             <p class=\"muted\">This draft was written before deskdraft kept the ticket with it: open the ticket in Freshdesk to read the customer.</p></section>",
            draft.ticket_id,
            draft.ticket_id,
            escape(product)
        );
    };
    let subject = if ticket.subject.trim().is_empty() {
        format!("Ticket #{}", draft.ticket_id)
    } else {
        ticket.subject.clone()
    };
    format!(
        "<section class=\"panel\" aria-labelledby=\"ticket-title\"><h2 id=\"ticket-title\">{}</h2>\
         <dl class=\"facts\"><dt>Ticket</dt><dd>#{}{link}</dd><dt>Requester</dt><dd id=\"requester\">{}</dd>\
         <dt>Product</dt><dd id=\"product\">{}</dd><dt>Priority</dt><dd>{}</dd><dt>Opened</dt><dd>{} ({})</dd>\
         <dt>Status</dt><dd>{}</dd></dl><h3>Conversation, newest first</h3>{}</section>",
        escape(&subject),
        draft.ticket_id,
        escape(requester.unwrap_or("unknown")),
        escape(product),
        ticket
            .priority
            .map(priority_name)
            .unwrap_or_else(|| "not set".into()),
        ago(ticket.created_at),
        ticket.created_at.format("%Y-%m-%d %H:%M UTC"),
        ticket_status_name(ticket.status),
        thread(ticket),
    )
}

fn thread(ticket: &TicketContext) -> String {
    let newest_customer = ticket.thread.iter().rposition(|t| t.from_customer);
    let mut html = String::from("<div class=\"thread\" id=\"thread\">");
    for (index, turn) in ticket.thread.iter().enumerate().rev() {
        let drafted = Some(index) == newest_customer;
        html.push_str(&format!(
            "<article class=\"turn {}{}\"><div class=\"who\">{} · {}{}</div><div class=\"text\">{}</div></article>",
            if turn.from_customer { "turn--customer" } else { "turn--agent" },
            if drafted { " turn--drafted" } else { "" },
            if turn.from_customer { "Customer" } else { "Agent reply" },
            ago(turn.at),
            if drafted { " · the message this draft answers" } else { "" },
            escape(&turn.text),
        ));
    }
    html.push_str("</div>");
    html
}

fn confidence_block(draft: &DraftRecord, qualities: &[BandQuality], has_report: bool) -> String {
    if draft.kind == "abstained" {
        return format!(
            "<div class=\"confidence\" id=\"confidence\">{}<p>No draft was confident enough to write.</p></div>",
            band_badge(&draft.kind, draft.confidence)
        );
    }
    let band = band_of(draft.confidence);
    let measured = qualities.iter().find(|q| q.band.label == band.label);
    let name = band_name(band.label).to_lowercase();
    let mut lines = String::new();
    if let Some((rate, answered)) = measured.and_then(|q| q.live) {
        lines.push_str(&format!(
            "<p>Live: {} of {name} drafts were sent nearly as written ({answered} answered).</p>",
            percent(Some(rate))
        ));
    }
    if let Some((rate, replayed)) = measured.and_then(|q| q.simulated) {
        lines.push_str(&format!(
            "<p>Simulation: {} of {name} drafts were judged good ({replayed} replayed; <a href=\"/reports/latest\">report</a>).</p>",
            percent(Some(rate))
        ));
    }
    if lines.is_empty() {
        lines = format!(
            "<p>Not measured yet: no agent has answered a {name} draft{}.</p>",
            if has_report {
                ", and the latest simulation has none in this band"
            } else {
                " and no simulation report is configured (serve.simulation_report_dir)"
            }
        );
    }
    let how = if draft.kind == "retrieval_only" || draft.kind == "llm_fallback" {
        "<p class=\"muted\">Retrieval-only draft: a past answer reused; the band says how close that past case is to this ticket.</p>"
    } else {
        ""
    };
    format!(
        "<div class=\"confidence\" id=\"confidence\">{} <span class=\"muted\">(band {:.2} to {:.2})</span>{lines}{how}</div>",
        band_badge(&draft.kind, draft.confidence),
        band.range[0],
        band.range[1],
    )
}

fn draft_panel(
    draft: &DraftRecord,
    csrf: &str,
    kept_query: &str,
    agent_email: &str,
    qualities: &[BandQuality],
    has_report: bool,
) -> String {
    let csrf = attribute(csrf);
    let back = attribute(kept_query);
    let id = attribute(&draft.id);
    let flags: Vec<String> = draft.draft["flags"]
        .as_array()
        .map(|flags| {
            flags
                .iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let shown = highlight(&draft.draft_text, &flags);
    let mut html = format!(
        "<section class=\"panel\" aria-labelledby=\"draft-title\"><h2 id=\"draft-title\">Draft <span class=\"badge badge-status\" id=\"draft-status\">{}</span></h2>{}",
        draft.status.as_str(),
        confidence_block(draft, qualities, has_report)
    );
    if let Some(error) = &draft.send_error {
        html.push_str(&format!(
            "<p class=\"flash flash--error\" role=\"alert\"><b>Not sent:</b> {}</p>",
            escape(error)
        ));
    }
    if let Some(reason) = draft.draft["abstain_reason"].as_str() {
        html.push_str(&format!("<p>Why there is no draft: {}</p>", escape(reason)));
    }
    if !shown.flags.is_empty() {
        html.push_str("<h3>Check before sending</h3><ul class=\"flags\" id=\"flags\">");
        for flag in &shown.flags {
            let place = match &flag.first_mark {
                Some(mark) => format!(
                    " <a class=\"where\" href=\"#{mark}\">highlighted {} time{} in the draft</a>",
                    flag.occurrences,
                    if flag.occurrences == 1 { "" } else { "s" }
                ),
                None => " <span class=\"where\">(about the draft as a whole)</span>".into(),
            };
            html.push_str(&format!("<li>{}{place}</li>", escape(&flag.text)));
        }
        html.push_str("</ul>");
    }
    match draft.status {
        DraftStatus::Pending => html.push_str(&format!(
            "<form method=\"post\" action=\"/drafts/{id}/approve\" id=\"approve-form\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"back\" value=\"{back}\">\
             <label class=\"field\" for=\"reply-text\">Reply to the customer (edit before approving)\
             <textarea class=\"input\" id=\"reply-text\" name=\"text\">{}</textarea></label>\
             <div class=\"actions\"><label class=\"field\" for=\"agent-email\">Send as (your Freshdesk email)\
             <input class=\"input\" type=\"email\" id=\"agent-email\" name=\"agent_email\" value=\"{}\" autocomplete=\"email\"></label>\
             <label class=\"field\" for=\"send-status\">Then set the ticket<select class=\"input\" id=\"send-status\" name=\"status\">\
             <option value=\"keep\">status unchanged</option><option value=\"pending\">Pending</option>\
             <option value=\"resolved\">Resolved</option></select></label>\
             <button type=\"submit\" class=\"btn btn--primary\" id=\"approve-button\">Approve and send</button></div></form>",
            escape(&draft.draft_text),
            attribute(agent_email),
        )),
        DraftStatus::Sending | DraftStatus::Approved => html.push_str(&format!(
            "<p>Approved by {}{}.</p><h3>Sent</h3><div class=\"preview\">{}</div>",
            escape(draft.decided_by.as_deref().unwrap_or("a reviewer")),
            draft
                .decided_at
                .map(|at| format!(" {}", ago(at)))
                .unwrap_or_default(),
            escape(draft.sent_text.as_deref().unwrap_or(&draft.draft_text)),
        )),
        DraftStatus::Rejected => html.push_str(&format!(
            "<p>Rejected by {}: {}</p>",
            escape(draft.decided_by.as_deref().unwrap_or("a reviewer")),
            escape(draft.reject_reason.as_deref().unwrap_or("")),
        )),
        DraftStatus::Abstained | DraftStatus::Superseded => {}
    }
    if !draft.draft_text.is_empty() {
        html.push_str(&format!(
            "<h3 id=\"preview-title\">The draft with its flags highlighted</h3>\
             <div class=\"preview\" id=\"preview\" role=\"region\" aria-labelledby=\"preview-title\" tabindex=\"0\">{}</div>",
            shown.html
        ));
    }
    if matches!(
        draft.status,
        DraftStatus::Pending | DraftStatus::Abstained | DraftStatus::Superseded
    ) {
        html.push_str(&format!(
            "<form method=\"post\" action=\"/drafts/{id}/reject\" class=\"reject\" id=\"reject-form\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"back\" value=\"{back}\">\
             <label class=\"field\" for=\"reject-reason\">Reason for rejecting\
             <input class=\"input\" id=\"reject-reason\" name=\"reason\" required placeholder=\"Why is this draft wrong?\"></label>\
             <button type=\"submit\" class=\"btn btn--danger\" id=\"reject-button\">Reject</button></form>"
        ));
    }
    html.push_str(&sources(draft));
    html.push_str("</section>");
    html
}

fn sources(draft: &DraftRecord) -> String {
    let items: String = draft.draft["sources"]
        .as_array()
        .map(|sources| {
            sources
                .iter()
                .map(|s| {
                    let title = escape(s["title"].as_str().unwrap_or("untitled"));
                    let key = s["key"].as_str().unwrap_or("");
                    let kind = match key.split(':').next().unwrap_or("") {
                        "case" => "past case",
                        "article" => "article",
                        "canned_response" => "canned response",
                        other => other,
                    };
                    let agents = if s["agent_only"].as_bool().unwrap_or(false) {
                        " · agents only"
                    } else {
                        ""
                    };
                    let age = describe_age(s["age_days"].as_i64());
                    let label = match s["url"].as_str().filter(|u| u.starts_with("http")) {
                        Some(url) => format!(
                            "<a href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">{title}</a>",
                            attribute(url)
                        ),
                        None => title,
                    };
                    format!(
                        "<li class=\"source\">{label} <span class=\"muted\">{} · {}{agents}</span></li>",
                        escape(kind),
                        escape(&age)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if items.is_empty() {
        return String::new();
    }
    format!("<h3>Sources</h3><ol class=\"sources\" id=\"sources\">{items}</ol>")
}
