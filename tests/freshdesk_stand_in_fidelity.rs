//! The Freshdesk stand-in checked against the public reference, not against our client: raw
//! HTTP calls on 127.0.0.1, each test naming the source of the behaviour it pins (labels of
//! `/tmp/research/freshdesk-facts.md` and the shared fact sheet: DOC = the official API docs by
//! line of the ktsaou/freshdesk_mcp copy, SRC = Freshdesk's own server code by index id,
//! OBSERVED = real responses quoted in public issues or fixtures). `docs/freshdesk-api-addendum.md`
//! lists the sources with links.

#[path = "support/mod.rs"]
mod support;

use chrono::{DateTime, TimeZone, Utc};
use deskdraft::domain::{Conversation, Ticket};
use reqwest::Method;
use serde_json::Value;
use support::freshdesk_stand_in::{Bundle, StandIn, StandInConfig};

#[path = "freshdesk_stand_in_fidelity/archive.rs"]
mod archive;
#[path = "freshdesk_stand_in_fidelity/conversations.rs"]
mod conversations;
#[path = "freshdesk_stand_in_fidelity/html.rs"]
mod html;
#[path = "freshdesk_stand_in_fidelity/knowledge.rs"]
mod knowledge;
#[path = "freshdesk_stand_in_fidelity/tickets.rs"]
mod tickets;

const KEY: &str = "test-key";

fn ts(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("date")
        + chrono::Duration::minutes(minutes)
}

fn conversation(ticket_id: i64, n: i64) -> Conversation {
    Conversation {
        id: 40_000_000_000 + ticket_id * 100 + n,
        body: format!("<div>message {n} of ticket {ticket_id}</div>"),
        body_text: Some(format!("message {n} of ticket {ticket_id}")),
        incoming: n % 2 == 1,
        private: false,
        source: Some(0),
        user_id: Some(7_000_000_000 + n),
        ticket_id: Some(ticket_id),
        support_email: None,
        created_at: ts(ticket_id * 10 + n),
        updated_at: Some(ts(ticket_id * 10 + n)),
        attachments: Vec::new(),
    }
}

/// Ticket `id` (ids are the account's sequence numbers 1, 2, 3, ...), resolved, with
/// `conversations` entries, updated at minute `id * 10`.
fn ticket(id: i64, conversations: i64) -> Ticket {
    Ticket {
        id,
        subject: format!("Ticket {id}"),
        description: format!("<div>Problem {id}</div>"),
        description_text: Some(format!("Problem {id}")),
        status: 4,
        priority: Some(1),
        source: Some(1),
        ticket_type: None,
        tags: vec!["old".into()],
        requester_id: Some(9_000_000_000 + id),
        responder_id: None,
        group_id: None,
        company_id: None,
        product_id: None,
        spam: false,
        deleted: false,
        archived: false,
        custom_fields: [("cf_order".to_owned(), Value::Null)].into_iter().collect(),
        created_at: ts(id * 10) - chrono::Duration::days(1),
        updated_at: ts(id * 10),
        conversations: (1..=conversations).map(|n| conversation(id, n)).collect(),
    }
}

/// Tickets 1..=count with 3 conversations each.
fn tickets(count: i64) -> Bundle {
    Bundle {
        tickets: (1..=count).map(|id| ticket(id, 3)).collect(),
        ..Bundle::default()
    }
}

/// One HTTP answer.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("{e}: HTTP {} body {:?}", self.status, self.text))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `X-RateLimit-Used-CurrentRequest`.
    fn credits(&self) -> u32 {
        self.header("x-ratelimit-used-currentrequest")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no credit header: {:?}", self.headers))
    }

    /// The first validation error (`errors[0]`) of a 400.
    fn first_error(&self) -> Value {
        assert_eq!(self.status, 400, "{}", self.text);
        let body = self.json();
        assert_eq!(body["description"], "Validation failed", "{body}");
        body["errors"][0].clone()
    }
}

/// Raw Freshdesk calls with the key as Basic user name and `X` as password.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(stand_in: &StandIn) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: stand_in.base_url(),
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(KEY, Some("X"));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("stand-in answers");
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            text: response.text().await.expect("body"),
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(&body)).await
    }

    async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Some(&body)).await
    }

    async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None).await
    }

    /// Every item of a paginated list, following `Link: <...>; rel="next"`; also returns the
    /// number of pages.
    async fn all_pages(&self, path: &str) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut url = format!("{}{path}", self.base);
        for pages in 1.. {
            let response = self
                .http
                .get(&url)
                .basic_auth(KEY, Some("X"))
                .send()
                .await
                .expect("stand-in answers");
            assert_eq!(response.status().as_u16(), 200, "{url}");
            let next = response
                .headers()
                .get("link")
                .and_then(|v| v.to_str().ok())
                .map(|link| {
                    assert!(link.ends_with("; rel=\"next\""), "{link}");
                    link.trim_start_matches('<')
                        .split('>')
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                });
            let page: Vec<Value> = response.json().await.expect("a bare array");
            items.extend(page);
            match next {
                Some(next) => url = next,
                None => return (items, pages),
            }
        }
        unreachable!()
    }
}

async fn start(bundle: Bundle, config: StandInConfig) -> (StandIn, Api) {
    let stand_in = StandIn::start(bundle, config).await;
    let api = Api::new(&stand_in);
    (stand_in, api)
}

fn ids(items: &[Value]) -> Vec<i64> {
    items.iter().filter_map(|t| t["id"].as_i64()).collect()
}
