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
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use super::ServeState;
use super::auth::webhook_authorised;

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The ticket id from the payload, leniently: `{"ticket_id": 11}`, `{"ticket_id": "11"}`, the
/// "simple" wrapper `{"freshdesk_webhook": {"ticket_id": "11"}}`, `{"ticket": {"id": 11}}`.
///
/// When placeholders broke the JSON (Freshdesk does not escape them, so a subject with a quote
/// breaks it), the id is taken only from the rule's own `"ticket_id"` (or `"ticket_url"`) field:
/// a key right after `{` or `,`. Customer text sits inside other fields' values, so it can add a
/// second such key only by imitating one; two different ids (in broken or valid JSON) are
/// refused rather than guessed. An id is a positive integer; 0 and negative numbers are refused.
pub fn ticket_id_from_payload(body: &[u8]) -> Result<i64, String> {
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() {
        return Err("empty body: send {\"ticket_id\": {{ticket.id}}}".into());
    }
    let found = own_field_ids(&text);
    if found.len() > 1 {
        // Even valid JSON can carry a second key a customer's text closed a string to write
        // (`x", "ticket_id": 5, "y": "`); JSON parsers keep one of them silently.
        return Err(format!(
            "the payload names several ticket ids {found:?}: send only {{\"ticket_id\": {{{{ticket.id}}}}}} \
             (text placeholders such as the subject can carry anything the customer wrote)"
        ));
    }
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        // Valid JSON can repeat the key in a form the pattern does not see (an escaped key or
        // value, a sign: `"ticket\u005fid"`, `"\u0036"`, `"+6"`); serde_json keeps the last.
        let named = json_field_ids(&text);
        if named.len() > 1 {
            return Err(format!(
                "the payload names several ticket ids {named:?}: send only {{\"ticket_id\": {{{{ticket.id}}}}}}"
            ));
        }
        let candidates = [
            &value["ticket_id"],
            &value["freshdesk_webhook"]["ticket_id"],
            &value["ticket"]["id"],
            &value["id"],
        ];
        for candidate in candidates {
            match candidate {
                Value::Number(n) => {
                    return n
                        .as_i64()
                        .filter(|id| *id > 0)
                        .ok_or_else(|| format!("ticket_id {n} is not a positive integer"));
                }
                Value::String(s) => return id_from_text(s),
                _ => {}
            }
        }
        return Err("no ticket id in the payload: send {\"ticket_id\": {{ticket.id}}}".into());
    }
    match found.as_slice() {
        [] if text.contains("{{ticket.id}}") => {
            Err("ticket_id is the unrendered placeholder {{ticket.id}}".into())
        }
        [] => Err(
            "no ticket id in the payload (which is not valid JSON): send {\"ticket_id\": {{ticket.id}}}"
                .into(),
        ),
        [one, ..] => Ok(*one),
    }
}

/// A ticket id written as text: `" 12 "`, `"#12"`.
fn id_from_text(text: &str) -> Result<i64, String> {
    let trimmed = text.trim().trim_start_matches('#');
    if trimmed.contains("{{") {
        return Err(format!(
            "ticket_id is the unrendered placeholder {text:?}: check the automation rule's template"
        ));
    }
    trimmed
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| format!("ticket_id {text:?} is not a ticket number"))
}

/// Distinct ids in `"ticket_id": N` / `"ticket_url": ".../tickets/N"` fields that sit where a
/// key can (right after `{` or `,`), in order of appearance.
fn own_field_ids(text: &str) -> Vec<i64> {
    static KEYED: Lazy<Regex> = Lazy::new(|| {
        Regex::new(
            r#"[{,]\s*"(?:ticket_id"\s*:\s*"?\s*#?(\d{1,18})\s*"?|ticket_url"\s*:\s*"[^"]*/tickets/(\d{1,18}))"#,
        )
        .expect("ticket id field pattern")
    });
    let mut ids = Vec::new();
    for found in KEYED.captures_iter(text) {
        let digits = found.get(1).or_else(|| found.get(2));
        if let Some(id) = digits
            .and_then(|d| d.as_str().parse::<i64>().ok())
            .filter(|id| *id > 0)
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

/// Distinct ids in the `ticket_id` fields of a valid JSON payload (top level and inside
/// `freshdesk_webhook`), read as JSON reads them: repeated keys included, escapes decoded.
fn json_field_ids(text: &str) -> Vec<i64> {
    let Ok(TicketIdFields(values)) = serde_json::from_str(text) else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    for value in values {
        let id = match &value {
            Value::Number(n) => n.as_i64().filter(|id| *id > 0),
            Value::String(s) => id_from_text(s).ok(),
            _ => None,
        };
        if let Some(id) = id
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

/// Every value of a `ticket_id` key in an object and in its `freshdesk_webhook` object, in
/// order; any other JSON reads as none.
#[derive(Default)]
struct TicketIdFields(Vec<Value>);

impl<'de> Deserialize<'de> for TicketIdFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TicketIdFieldsVisitor)
    }
}

struct TicketIdFieldsVisitor;

impl<'de> Visitor<'de> for TicketIdFieldsVisitor {
    type Value = TicketIdFields;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TicketIdFields, A::Error> {
        let mut fields = TicketIdFields::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "ticket_id" => fields.0.push(map.next_value()?),
                "freshdesk_webhook" => fields.0.extend(map.next_value::<TicketIdFields>()?.0),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(fields)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TicketIdFields, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TicketIdFields::default())
    }

    fn visit_bool<E>(self, _: bool) -> Result<TicketIdFields, E> {
        Ok(TicketIdFields::default())
    }

    fn visit_i64<E>(self, _: i64) -> Result<TicketIdFields, E> {
        Ok(TicketIdFields::default())
    }

    fn visit_u64<E>(self, _: u64) -> Result<TicketIdFields, E> {
        Ok(TicketIdFields::default())
    }

    fn visit_f64<E>(self, _: f64) -> Result<TicketIdFields, E> {
        Ok(TicketIdFields::default())
    }

    fn visit_str<E>(self, _: &str) -> Result<TicketIdFields, E> {
        Ok(TicketIdFields::default())
    }

    fn visit_unit<E>(self) -> Result<TicketIdFields, E> {
        Ok(TicketIdFields::default())
    }
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
        // Unescaped quotes in a subject break the JSON; the rule's own field still answers.
        assert_eq!(
            ok(r#"{"ticket_subject": "my "kettle"", "ticket_id": "15"}"#),
            15
        );
        assert_eq!(
            ok(r#"{"ticket_url": "https://acme.freshdesk.com/helpdesk/tickets/16", "x": "a"b"}"#),
            16
        );
        let err = |body: &str| ticket_id_from_payload(body.as_bytes()).unwrap_err();
        assert!(err(r#"{"ticket_id": "{{ticket.id}}"}"#).contains("placeholder"));
        assert!(err(r#"{"ticket_id": -3}"#).contains("positive"));
        assert!(err(r#"{"ticket_id": 0}"#).contains("positive"));
        assert!(err(r#"{"ticket_id": "0"}"#).contains("not a ticket number"));
        assert!(err("").contains("empty"));
        assert!(err(r#"{"subject": "hi"}"#).contains("no ticket id"));
    }

    #[test]
    fn customer_text_never_supplies_the_ticket_id() {
        let err = |body: &str| ticket_id_from_payload(body.as_bytes()).unwrap_err();
        // Broken JSON whose only ids are inside a customer's text: none is taken.
        assert!(
            err(r#"{"ticket_subject": "see /tickets/99 and "ticket_id": 98", "x": 1"#)
                .contains("no ticket id")
        );
        assert!(
            err(r#"{"ticket_description": "<a href="https://acme.freshdesk.com/helpdesk/tickets/77">x</a>"}"#)
                .contains("no ticket id")
        );
        // A customer imitating the rule's field next to the real one: refused, not guessed.
        let both = r#"{"ticket_subject": "x", "ticket_id": 5, "y": "", "ticket_id": 41}"#;
        assert!(err(both).contains("several ticket ids"), "{}", err(both));
        // Valid JSON with the injected key after the rule's: a parser would keep the customer's.
        let injected = r#"{"ticket_id": 41, "ticket_subject": "x", "ticket_id": 5, "y": ""}"#;
        assert!(serde_json::from_str::<Value>(injected).is_ok());
        assert!(err(injected).contains("several ticket ids"));
        // The same id twice is no ambiguity; 0 is never an id.
        assert_eq!(
            ticket_id_from_payload(br#"{"ticket_id": 7, "s": "a"b", "ticket_id": 7}"#).unwrap(),
            7
        );
        assert!(err(r#"{"ticket_id": 0, "s": "a"b"}"#).contains("no ticket id"));
    }

    #[test]
    fn a_repeated_ticket_id_the_pattern_cannot_see_is_refused() {
        // Found with the duplicate-key check of fuzz/fuzz_targets/webhook_payload.rs: valid JSON
        // whose injected second key is written so the field pattern misses it (a sign, an
        // escaped digit or key) made serde_json's last-key-wins choose the customer's id.
        let err = |body: &str| ticket_id_from_payload(body.as_bytes()).unwrap_err();
        for injected in [
            r#"{"ticket_id": 5, "ticket_subject": "x", "ticket_id": "+6", "y": ""}"#,
            r#"{"ticket_id": 5, "ticket_subject": "x", "ticket_id": "\u0036", "y": ""}"#,
            r#"{"ticket_id": 5, "ticket_subject": "x", "ticket\u005fid": 6, "y": ""}"#,
            r#"{"freshdesk_webhook": {"ticket_id": 5, "s": "x", "ticket_id": "+6", "y": ""}}"#,
            r#"{"freshdesk_webhook": {"ticket_id": 5, "s": ""}, "ticket\u005fid": 6}"#,
            r#"{"ticket_id": "+6", "ticket_subject": "x", "ticket_id": 5}"#,
        ] {
            assert!(err(injected).contains("several ticket ids"), "{injected}");
        }
        // The same id in another spelling is no ambiguity; a wrapper that is not an object names none.
        let ok = |body: &str| ticket_id_from_payload(body.as_bytes()).unwrap();
        assert_eq!(ok(r#"{"ticket_id": 5, "s": "x", "ticket_id": "+5"}"#), 5);
        assert_eq!(ok(r#"{"freshdesk_webhook": "x", "ticket_id": 7}"#), 7);
    }
}
