//! The request pipeline of the Freshdesk stand-in: rate limit and sub-limits (invalid requests
//! count too), injected faults, authentication, routing, and the request log.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::json;

use super::{LoggedRequest, Reply, Shared, routes};

enum Fault {
    Reset,
    ServerError,
    Malformed,
}

/// `/api/v2/tickets/{id}`: the "Ticket Update" sub-limit's path for PUT.
fn is_ticket_path(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(segments.as_slice(), ["api", "v2", "tickets", id] if id.parse::<i64>().is_ok())
}

/// Consumes one of `Faults::lost_response_next`, if any are left.
fn take_lost_next(shared: &Shared) -> bool {
    let mut data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    if data.faults.lost_response_next > 0 {
        data.faults.lost_response_next -= 1;
        true
    } else {
        false
    }
}

/// Every request is handled in a task of its own: like a real server, the stand-in finishes a
/// request (and applies its write) even when the client has stopped waiting for the answer.
pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    tokio::spawn(handle_detached(shared, method, uri, headers, body))
        .await
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn handle_detached(
    shared: Arc<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = shared.start.elapsed();
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let cost = routes::credit_cost(&method, &path, &pairs);
    let is_list = method == Method::GET && path.trim_end_matches('/') == "/api/v2/tickets";
    let is_update = method == Method::PUT && is_ticket_path(&path);
    let is_write = method == Method::POST || method == Method::PUT;
    let limit = shared.config.limit_per_window;

    // Rate limit first: invalid requests count too.
    let (remaining, fault, slow, lost) = {
        let mut data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
        shared.roll_window(&mut data);
        let list_full = is_list
            && shared
                .config
                .list_limit_per_window
                .is_some_and(|l| data.list_used >= l);
        let update_full = is_update
            && shared
                .config
                .update_limit_per_window
                .is_some_and(|l| data.update_used >= l);
        if data.used + cost > limit || list_full || update_full {
            let secs = shared.retry_after_secs(&data);
            data.log.push(LoggedRequest {
                method: method.to_string(),
                path,
                query,
                at,
                status: 429,
                retry_after: Some(secs),
                cost: 0,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            let mut response = Reply::new(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"code": "rate_limit_exceeded", "message": "You have exceeded the limit of requests per minute"}),
            )
            .into_response(limit, limit.saturating_sub(data.used), 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return response;
        }
        data.used += cost;
        if is_list {
            data.list_used += 1;
        }
        if is_update {
            data.update_used += 1;
        }
        let faults = data.faults.clone();
        let malformed_next = faults.malformed_next > 0;
        if malformed_next {
            data.faults.malformed_next -= 1;
        }
        let mut draw = |rate: f64| rate > 0.0 && data.rng.random::<f64>() < rate;
        let fault = if draw(faults.reset_rate) {
            Some(Fault::Reset)
        } else if draw(faults.server_error_rate) {
            Some(Fault::ServerError)
        } else if malformed_next || draw(faults.malformed_rate) {
            Some(Fault::Malformed)
        } else {
            None
        };
        let slow = draw(faults.slow_rate).then_some(faults.slow_delay);
        let lost = is_write && draw(faults.lost_response_rate);
        let slow = match (slow, is_write && !faults.write_delay.is_zero()) {
            (slow, true) => Some(slow.unwrap_or_default() + faults.write_delay),
            (slow, false) => slow,
        };
        (limit - data.used, fault, slow, lost)
    };
    if let Some(delay) = slow {
        tokio::time::sleep(delay).await;
    }
    let reply = match fault {
        Some(Fault::Reset) => {
            log(&shared, &method, path, query, at, 0, cost, &body);
            // An erroring body makes hyper abort the connection mid-response.
            let stream = futures::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected reset",
                ))
            });
            return Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                .header(header::CONTENT_LENGTH, "4096")
                .body(Body::from_stream(stream))
                .unwrap_or_default();
        }
        Some(Fault::ServerError) => Reply::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"code": "internal_error", "message": "We're sorry, but something went wrong."}),
        ),
        Some(Fault::Malformed) | None => {
            let mut reply = if routes::authorised(&headers, &shared.config.api_key) {
                routes::route(&shared, &method, &path, &pairs, &headers, &body)
            } else {
                Reply::new(
                    StatusCode::UNAUTHORIZED,
                    json!({"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}),
                )
            };
            if matches!(fault, Some(Fault::Malformed)) && reply.status.is_success() {
                reply.raw = Some("[{\"id\": 1, \"subject\": \"trunc".to_owned());
            }
            // The write happened; only its answer is lost on the way back.
            if is_write && reply.status.is_success() && (lost || take_lost_next(&shared)) {
                reply = Reply::bad_gateway();
            }
            reply
        }
    };
    log(
        &shared,
        &method,
        path,
        query,
        at,
        reply.status.as_u16(),
        cost,
        &body,
    );
    reply.into_response(limit, remaining, cost)
}

#[allow(clippy::too_many_arguments)]
fn log(
    shared: &Shared,
    method: &Method,
    path: String,
    query: String,
    at: Duration,
    status: u16,
    cost: u32,
    body: &[u8],
) {
    let body = String::from_utf8_lossy(body).into_owned();
    let mut data = shared.data.lock().unwrap_or_else(|e| e.into_inner());
    data.log.push(LoggedRequest {
        method: method.to_string(),
        path,
        query,
        at,
        status,
        retry_after: None,
        cost,
        body,
    });
}
