//! A real `deskdraft serve` against the Freshdesk stand-in, for the app's browser tests: the demo
//! account plus a few new open tickets, the demo bundle ingested once per test binary, the
//! retrieval-only drafter. (The same setup as tests/serve/main.rs, cut to what the app needs.)

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::freshdesk_stand_in::{Bundle, StandIn, StandInConfig};
use crate::support::serve_process::{
    ServeSecrets, demo_tickets, listening_url, new_open_tickets, serve_command,
};
pub use crate::support::serve_process::{ingested_data_dir, repo};

pub const KEY: &str = "app-test-key";
pub const WEBHOOK_SECRET: &str = "webhook-secret-0123456789";
pub const REVIEW_TOKEN: &str = "review-token-0123456789";
pub const APP_TOKEN: &str = "app-token-0123456789abcdef";
pub const FIRST_NEW_TICKET: i64 = 90_001;

/// The Freshdesk stand-in with the demo history plus `count` new open tickets (each the
/// customer's first message of a demo ticket).
pub async fn stand_in_with_new_tickets(count: usize) -> StandIn {
    let history = demo_tickets();
    let mut tickets = history.clone();
    tickets.extend(new_open_tickets(
        history.iter().filter(|t| !t.spam && !t.deleted),
        FIRST_NEW_TICKET,
        count,
    ));
    let bundle = Bundle {
        tickets,
        ..Bundle::default()
    };
    let config = StandInConfig {
        api_key: KEY.into(),
        window: Duration::from_secs(1),
        ..StandInConfig::default()
    };
    StandIn::start(bundle, config).await
}

/// The ticket as `client.data.get("ticket")` gives it to the app: the Freshdesk ticket fields,
/// without the conversations (the platform's ticket object has none).
pub fn ticket_for_app(stand_in: &StandIn, id: i64) -> Value {
    let ticket = stand_in.ticket(id).expect("ticket in the stand-in");
    let mut value = serde_json::to_value(&ticket).unwrap();
    value.as_object_mut().unwrap().remove("conversations");
    value
}

/// A running `deskdraft serve` with an app token; killed when dropped.
pub struct Server {
    child: tokio::process::Child,
    pub url: String,
}

pub async fn start_server(data_dir: &Path, stand_in: &StandIn, env: &[(&str, &str)]) -> Server {
    let secrets = ServeSecrets {
        freshdesk_key: KEY,
        webhook_secret: WEBHOOK_SECRET,
        review_token: REVIEW_TOKEN,
    };
    let mut command = serve_command(data_dir, &stand_in.base_url(), &secrets, env);
    command.env("DESKDRAFT_APP_TOKEN", APP_TOKEN);
    let mut child = command.spawn().expect("serve starts");
    let url = listening_url(&mut child, Duration::from_secs(60)).await;
    Server { child, url }
}

impl Server {
    /// `host:port`, what the app's `deskdraft_host` iparam holds.
    pub fn host(&self) -> String {
        url::Url::parse(&self.url)
            .map(|u| format!("{}:{}", u.host_str().unwrap(), u.port().unwrap()))
            .unwrap()
    }

    /// `GET` a JSON API path with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Value {
        let response = http()
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Polls a JSON API path until `accept` holds; fails after `limit`.
    pub async fn wait_for(
        &self,
        path: &str,
        limit: Duration,
        accept: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let value = self.get(path, REVIEW_TOKEN).await;
            if accept(&value) {
                return value;
            }
            assert!(
                started.elapsed() < limit,
                "GET {path} not as expected after {limit:?}: {value}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sends the ticket-creation webhook and waits until the ticket has its draft (or
    /// abstention) note.
    pub async fn draft_by_webhook(&self, stand_in: &StandIn, ticket_id: i64) {
        let status = http()
            .post(format!("{}/webhooks/freshdesk", self.url))
            .header("X-Deskdraft-Secret", WEBHOOK_SECRET)
            .json(&json!({"ticket_id": ticket_id}))
            .send()
            .await
            .expect("webhook delivered")
            .status();
        assert_eq!(status, 202);
        let started = Instant::now();
        while !stand_in
            .ticket(ticket_id)
            .is_some_and(|t| t.conversations.iter().any(|c| c.private))
        {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no note on {ticket_id}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server (SIGKILL) and waits for it to be gone.
    pub async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}
