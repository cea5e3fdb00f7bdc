//! `POST /webhooks/freshdesk`: a Freshdesk automation rule ("Trigger webhook" on ticket creation,
//! or on a reply from the requester) reports a ticket. Only the ticket id is taken from the payload (the ticket itself is fetched
//! over the API by the worker); the response is 202 only once the job is committed to disk.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use once_cell::sync::Lazy;
use regex::Regex;
use serde_json::{Value, json};

use super::ServeState;
use super::auth::webhook_authorised;

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The ticket id from the payload, leniently: `{"ticket_id": 11}`, `{"ticket_id": "11"}`, the
/// "simple" wrapper `{"freshdesk_webhook": {"ticket_id": "11"}}`, `{"ticket": {"id": 11}}`; and
/// when placeholders broke the JSON (Freshdesk does not escape them), a `"ticket_id": ...` or a
/// `/tickets/11` URL found in the raw text.
pub fn ticket_id_from_payload(body: &[u8]) -> Result<i64, String> {
    static RAW_ID: Lazy<Regex> =
        Lazy::new(|| Regex::new(r#""ticket_id"\s*:\s*"?\s*(\d{1,18})\s*"?"#).expect("id pattern"));
    static RAW_URL: Lazy<Regex> =
        Lazy::new(|| Regex::new(r#"/tickets/(\d{1,18})\b"#).expect("url pattern"));
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() {
        return Err("empty body: send {\"ticket_id\": {{ticket.id}}}".into());
    }
    let candidates: Vec<Value> = match serde_json::from_str::<Value>(&text) {
        Ok(value) => vec![
            value["ticket_id"].clone(),
            value["freshdesk_webhook"]["ticket_id"].clone(),
            value["ticket"]["id"].clone(),
            value["id"].clone(),
        ],
        Err(_) => Vec::new(),
    };
    for candidate in candidates {
        match candidate {
            Value::Number(n) => {
                if let Some(id) = n.as_i64().filter(|id| *id > 0) {
                    return Ok(id);
                }
                return Err(format!("ticket_id {n} is not a positive integer"));
            }
            Value::String(s) => {
                let trimmed = s.trim().trim_start_matches('#');
                if trimmed.contains("{{") {
                    return Err(format!(
                        "ticket_id is the unrendered placeholder {s:?}: check the automation rule's template"
                    ));
                }
                return trimmed
                    .parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .ok_or_else(|| format!("ticket_id {s:?} is not a ticket number"));
            }
            _ => {}
        }
    }
    if let Some(found) = RAW_ID.captures(&text).or_else(|| RAW_URL.captures(&text)) {
        return found[1]
            .parse()
            .map_err(|_| "ticket_id is out of range".to_string());
    }
    if text.contains("{{ticket.id}}") {
        return Err("ticket_id is the unrendered placeholder {{ticket.id}}".into());
    }
    Err("no ticket id in the payload: send {\"ticket_id\": {{ticket.id}}}".into())
}

pub async fn freshdesk_webhook(
    State(state): State<ServeState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if !webhook_authorised(&headers, &state.webhook_secret) {
        state.metrics.webhook("unauthorized");
        return error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong webhook secret (X-Deskdraft-Secret header or Basic-auth password)",
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            state.metrics.webhook("bad_request");
            return error(
                rejection.status(),
                format!(
                    "body rejected ({}); the limit is {} bytes: send only {{\"ticket_id\": {{{{ticket.id}}}}}}",
                    rejection.body_text(),
                    state.settings.max_body_bytes
                ),
            );
        }
    };
    let ticket_id = match ticket_id_from_payload(&body) {
        Ok(id) => id,
        Err(problem) => {
            state.metrics.webhook("bad_request");
            return error(StatusCode::BAD_REQUEST, problem);
        }
    };
    match state.queue.enqueue(ticket_id, "webhook").await {
        Ok(enqueued) => {
            state.metrics.webhook(if enqueued.created {
                "accepted"
            } else if enqueued.rearmed {
                "rearmed"
            } else {
                "duplicate"
            });
            state.job_signal.notify_one();
            tracing::info!(
                ticket_id,
                job_id = enqueued.job_id,
                duplicate = enqueued.duplicate(),
                "webhook stored"
            );
            (
                StatusCode::ACCEPTED,
                Json(json!({
                    "job_id": enqueued.job_id,
                    "ticket_id": ticket_id,
                    "duplicate": enqueued.duplicate(),
                })),
            )
                .into_response()
        }
        Err(e) => {
            // Not stored: Freshdesk must retry, so this is a 5xx.
            state.metrics.webhook("error");
            tracing::error!(ticket_id, error = %e, "webhook could not be stored");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the job could not be stored; retry later",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_ids_are_read_leniently_and_placeholders_are_named() {
        let ok = |body: &str| ticket_id_from_payload(body.as_bytes()).unwrap();
        assert_eq!(ok(r#"{"ticket_id": 11}"#), 11);
        assert_eq!(ok(r#"{"ticket_id": " 12 "}"#), 12);
        assert_eq!(
            ok(r#"{"freshdesk_webhook": {"ticket_id": "13", "ticket_subject": "x"}}"#),
            13
        );
        assert_eq!(ok(r#"{"ticket": {"id": 14}}"#), 14);
        // Unescaped quotes in a subject break the JSON; the id is still found.
        assert_eq!(
            ok(r#"{"ticket_subject": "my "kettle"", "ticket_id": "15"}"#),
            15
        );
        assert_eq!(
            ok(r#"{"ticket_url": "https://acme.freshdesk.com/helpdesk/tickets/16"}"#),
            16
        );
        let err = |body: &str| ticket_id_from_payload(body.as_bytes()).unwrap_err();
        assert!(err(r#"{"ticket_id": "{{ticket.id}}"}"#).contains("placeholder"));
        assert!(err(r#"{"ticket_id": -3}"#).contains("positive"));
        assert!(err("").contains("empty"));
        assert!(err(r#"{"subject": "hi"}"#).contains("no ticket id"));
    }
}
