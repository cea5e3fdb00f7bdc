//! The client's newer calls against the stand-in as unkind as Freshdesk: writes whose answer a
//! gateway lost (502 HTML) after Freshdesk stored them, replies as another agent, archived
//! tickets, the trash and spam lists, ticket updates, canned responses and agents by email.

use super::*;
use deskdraft::domain::CannedResponse;
use deskdraft::helpdesk::{ReplyRequest, TicketUpdate};
use support::freshdesk_stand_in::{AGENT_ID, CannedFolder, OTHER_AGENTS};

fn lost_next(count: u32) -> StandInConfig {
    StandInConfig {
        faults: Faults {
            lost_response_next: count,
            ..Faults::default()
        },
        ..Default::default()
    }
}

/// Freshdesk answers a write later than the client waits: the client times out while the write
/// goes on and lands. Before trying again the client gives it as long again to land, finds it,
/// and posts nothing more (Freshdesk has no idempotency keys; this is the only defence).
#[tokio::test]
async fn a_reply_that_outlasts_the_client_timeout_is_posted_once() {
    let stand_in = StandIn::start(
        synthetic_bundle(1, 1, 0..0),
        StandInConfig {
            faults: Faults {
                write_delay: Duration::from_millis(1500),
                ..Faults::default()
            },
            ..Default::default()
        },
    )
    .await;
    let mut config = config(&stand_in, KEY);
    config.timeout = Duration::from_secs(1);
    let freshdesk = Freshdesk::new(config).expect("client");
    let reply = freshdesk
        .writer()
        .create_reply(&ReplyRequest {
            ticket_id: 1,
            body_html: "<p>Hold the power button for ten seconds.</p>".into(),
            agent_id: Some(OTHER_AGENTS[0]),
            not_before: None,
        })
        .await
        .expect("reply");
    let posts = stand_in.log().iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 1, "one POST: the timed-out one landed and was found");
    let ours: Vec<_> = stand_in
        .ticket(1)
        .expect("ticket")
        .conversations
        .into_iter()
        .filter(|c| c.is_public_agent_reply() && c.user_id == Some(OTHER_AGENTS[0]))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0].id, reply.id);
}

#[tokio::test]
async fn a_note_and_a_reply_whose_answer_was_lost_are_not_posted_twice() {
    let stand_in = StandIn::start(synthetic_bundle(2, 1, 0..0), lost_next(1)).await;
    let freshdesk = Freshdesk::new(config(&stand_in, KEY)).expect("client");
    let writer = freshdesk.writer();
    let note = writer
        .create_private_note(1, "<p>It&#39;s a draft</p>", "deskdraft:d1")
        .await
        .expect("note");
    let stored = stand_in.ticket(1).expect("ticket").conversations;
    assert_eq!(stored.len(), 2, "exactly one note: {stored:?}");
    assert_eq!(stored[1].id, note.id);
    assert_eq!(stored[1].body, "<div><div>It's a draft</div></div>");

    stand_in.set_faults(Faults {
        lost_response_next: 1,
        ..Faults::default()
    });
    let reply = writer
        .create_reply(&ReplyRequest {
            ticket_id: 2,
            body_html: "<p>Done &amp; dusted.<br/>Ana</p>".into(),
            agent_id: Some(OTHER_AGENTS[0]),
            not_before: Some(Utc::now()),
        })
        .await
        .expect("reply");
    let stored = stand_in.ticket(2).expect("ticket").conversations;
    assert_eq!(stored.len(), 2, "exactly one reply: {stored:?}");
    assert_eq!(
        (stored[1].id, stored[1].user_id),
        (reply.id, Some(OTHER_AGENTS[0]))
    );
    let log = stand_in.log();
    let posts: Vec<u16> = log
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, vec![502, 502], "one POST each, both answers lost");
}

#[tokio::test]
async fn archived_tickets_are_read_from_their_own_endpoints() {
    let mut bundle = synthetic_bundle(3, 2, 0..0);
    bundle.tickets[2].archived = true;
    bundle.tickets[2].conversations = (1..=7).map(|n| conversation(3, n)).collect();
    let stand_in = StandIn::start(bundle.clone(), StandInConfig::default()).await;
    let mut config = config(&stand_in, KEY);
    config.per_page = 3;
    let freshdesk = Freshdesk::new(config).expect("client");
    let reader = freshdesk.reader();

    let archived = reader
        .archived_ticket(3)
        .await
        .expect("read")
        .expect("archived");
    assert!(archived.archived);
    assert_eq!(archived.conversations, bundle.tickets[2].conversations);
    assert!(reader.archived_ticket(1).await.expect("read").is_none());
    let live = reader.ticket(3).await.expect_err("not a live ticket");
    assert!(matches!(live, HelpdeskError::NotFound(_)), "{live:?}");

    let without = StandIn::start(
        bundle,
        StandInConfig {
            archive_feature: false,
            ..Default::default()
        },
    )
    .await;
    let freshdesk = Freshdesk::new(config_for(&without)).expect("client");
    let error = freshdesk
        .reader()
        .archived_ticket(3)
        .await
        .expect_err("no feature");
    assert!(matches!(error, HelpdeskError::Forbidden(_)), "{error:?}");
}

fn config_for(stand_in: &StandIn) -> FreshdeskConfig {
    config(stand_in, KEY)
}

#[tokio::test]
async fn trash_and_spam_ids_leave_out_archived_tickets() {
    let mut bundle = synthetic_bundle(8, 0, 0..0);
    for ticket in &mut bundle.tickets {
        ticket.deleted = matches!(ticket.id, 2 | 3 | 7);
        ticket.spam = matches!(ticket.id, 4 | 8);
        ticket.archived = ticket.id >= 7;
    }
    let stand_in = StandIn::start(bundle, StandInConfig::default()).await;
    let mut config = config(&stand_in, KEY);
    config.per_page = 1;
    let freshdesk = Freshdesk::new(config).expect("client");
    let removed = freshdesk.reader().removed_ticket_ids().await.expect("ids");
    assert_eq!(removed.deleted.into_iter().collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(removed.spam.into_iter().collect::<Vec<_>>(), vec![4]);
    let log = stand_in.log();
    assert!(
        log.iter().all(|r| r.status == 200 && r.cost == 1),
        "{log:?}"
    );
    assert_eq!(log.len(), 3, "two trash pages, one spam page");
}

#[tokio::test]
async fn ticket_updates_set_status_and_replace_tags() {
    let mut bundle = synthetic_bundle(2, 0, 0..0);
    bundle.tickets[1].spam = true;
    let stand_in = StandIn::start(bundle, lost_next(1)).await;
    let freshdesk = Freshdesk::new(config(&stand_in, KEY)).expect("client");
    let writer = freshdesk.writer();
    let update = TicketUpdate {
        status: Some(4),
        tags: Some(vec!["deskdraft".into()]),
    };
    writer
        .update_ticket(1, &update)
        .await
        .expect("applied despite a lost answer");
    let ticket = stand_in.ticket(1).expect("ticket");
    assert_eq!(
        (ticket.status, ticket.tags.clone()),
        (4, vec!["deskdraft".to_owned()])
    );
    let error = writer.update_ticket(2, &update).await.expect_err("spam");
    assert!(matches!(error, HelpdeskError::Permanent(_)), "{error:?}");
}

#[tokio::test]
async fn canned_responses_come_from_shared_folders_and_need_an_admin() {
    let canned = |id: i64, folder: Option<i64>| CannedResponse {
        id,
        title: format!("Answer {id}"),
        folder_id: folder,
        content: "Hi {{ticket.requester.name}}".into(),
        content_html: "<div>Hi {{ticket.requester.name}}</div>".into(),
        created_at: ts(id),
        updated_at: ts(id),
    };
    let bundle = Bundle {
        canned_responses: vec![canned(1, Some(1)), canned(2, Some(2)), canned(3, None)],
        canned_folders: vec![
            CannedFolder {
                id: 1,
                name: "Billing".into(),
                personal: false,
            },
            CannedFolder {
                id: 2,
                name: "Personal".into(),
                personal: true,
            },
        ],
        ..Bundle::default()
    };
    let stand_in = StandIn::start(bundle.clone(), StandInConfig::default()).await;
    let freshdesk = Freshdesk::new(config(&stand_in, KEY)).expect("client");
    let mut read = freshdesk.reader().canned_responses().await.expect("canned");
    read.sort_by_key(|r| r.id);
    let ids: Vec<(i64, Option<i64>)> = read.iter().map(|r| (r.id, r.folder_id)).collect();
    assert_eq!(
        ids,
        vec![
            (1, Some(1)),
            (3, Some(support::freshdesk_stand_in::DEFAULT_CANNED_FOLDER))
        ],
        "the personal folder is skipped"
    );
    assert_eq!(read[0].content, "Hi {{ticket.requester.name}}");

    let agent = StandIn::start(
        bundle,
        StandInConfig {
            admin: false,
            ..Default::default()
        },
    )
    .await;
    let freshdesk = Freshdesk::new(config_for(&agent)).expect("client");
    let error = freshdesk
        .reader()
        .canned_responses()
        .await
        .expect_err("403");
    assert!(matches!(error, HelpdeskError::Forbidden(_)), "{error:?}");
}

#[tokio::test]
async fn agents_are_found_by_email_with_an_admin_key() {
    let stand_in = StandIn::start(synthetic_bundle(1, 0, 0..0), StandInConfig::default()).await;
    let freshdesk = Freshdesk::new(config(&stand_in, KEY)).expect("client");
    let writer = freshdesk.writer();
    assert_eq!(
        writer
            .agent_id_by_email(" agent@stand-in.example ")
            .await
            .expect("lookup"),
        Some(AGENT_ID)
    );
    assert_eq!(
        writer
            .agent_id_by_email("nobody@stand-in.example")
            .await
            .expect("lookup"),
        None
    );
    let agent = StandIn::start(
        synthetic_bundle(1, 0, 0..0),
        StandInConfig {
            admin: false,
            ..Default::default()
        },
    )
    .await;
    let freshdesk = Freshdesk::new(config_for(&agent)).expect("client");
    let error = freshdesk
        .writer()
        .agent_id_by_email("agent@stand-in.example")
        .await
        .expect_err("403");
    assert!(matches!(error, HelpdeskError::Forbidden(_)), "{error:?}");
    let error = freshdesk.reader().agents().await.expect_err("403");
    assert!(matches!(error, HelpdeskError::Forbidden(_)), "{error:?}");
}

/// The console's agent names: `GET /agents` pages, the name read from under `contact`.
#[tokio::test]
async fn agents_are_listed_with_their_names_under_contact() {
    let stand_in = StandIn::start(synthetic_bundle(1, 0, 0..0), StandInConfig::default()).await;
    let freshdesk = Freshdesk::new(config(&stand_in, KEY)).expect("client");
    let mut agents = freshdesk.reader().agents().await.expect("agents");
    agents.sort_by_key(|a| a.id);
    let named: Vec<(i64, &str)> = agents.iter().map(|a| (a.id, a.name.as_str())).collect();
    assert_eq!(
        named,
        [
            (AGENT_ID, "Stand-in Agent"),
            (OTHER_AGENTS[0], "Ana Lima"),
            (OTHER_AGENTS[1], "Ben Okafor")
        ]
    );
}

/// Freshdesk serves at most 300 pages of any ticket list, `filter=deleted|spam` included (fact
/// sheet §2.3, §8.4): a trash larger than 300 x per_page must be read the way the sync reads
/// the live list (order by `updated_at`, restart from the newest seen), not by following
/// `Link` into the 400 past the last page.
#[tokio::test]
async fn trash_lists_longer_than_the_page_cap_are_read_completely() {
    let mut bundle = synthetic_bundle(5, 0, 0..0);
    for ticket in &mut bundle.tickets {
        ticket.deleted = true;
    }
    let stand_in = StandIn::start(
        bundle,
        StandInConfig {
            max_pages: 2,
            ..Default::default()
        },
    )
    .await;
    let mut config = config(&stand_in, KEY);
    config.per_page = 1;
    config.max_list_pages = 2;
    let freshdesk = Freshdesk::new(config).expect("client");
    let removed = freshdesk.reader().removed_ticket_ids().await.expect("ids");
    assert_eq!(removed.deleted.len(), 5);
}
