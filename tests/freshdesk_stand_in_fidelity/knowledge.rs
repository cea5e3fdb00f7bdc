//! Solution folders and articles, and canned responses.

use super::*;
use deskdraft::domain::{Article, CannedResponse};
use serde_json::json;
use support::freshdesk_stand_in::{CannedFolder, DEFAULT_CANNED_FOLDER};

fn article(id: i64, folder: i64) -> Article {
    Article {
        id,
        title: format!("Article {id}"),
        description: format!("<p>Body {id}</p>"),
        description_text: Some(format!("Body {id}")),
        status: 2,
        folder_id: Some(folder),
        category_id: Some(1),
        tags: Vec::new(),
        url: Some(format!("https://elsewhere.example/{id}")),
        product_id: Some(7),
        folder_visibility: Some(1),
        created_at: ts(id),
        updated_at: ts(id),
    }
}

/// DOC L11696-L11740 (the article object: no `url`, no visibility) and DOC L10894-L10905
/// (folder `visibility` 1-7, default 1); research §3.
#[tokio::test]
async fn articles_never_carry_a_url_and_folders_carry_the_visibility() {
    let bundle = Bundle {
        articles: vec![article(1, 10), article(2, 20), article(3, 30)],
        folder_visibility: [(20, 3)].into(),
        ..Bundle::default()
    };
    let (_stand_in, api) = start(bundle, StandInConfig::default()).await;
    for path in [
        "/solutions/folders/10/articles",
        "/solutions/folders/20/articles",
    ] {
        let (articles, _) = api.all_pages(path).await;
        assert_eq!(articles.len(), 1);
        for key in ["url", "folder_visibility", "visibility", "product_id"] {
            assert!(
                articles[0].get(key).is_none(),
                "{path}: {key} in {}",
                articles[0]
            );
        }
        // Fact sheet §10.3: article descriptions come back as sent (no `<div>` wrapping).
        assert!(
            articles[0]["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("<p>Body"))
        );
    }
    let one = api.get("/solutions/articles/2").await.json();
    assert!(
        one.get("url").is_none() && one["title"] == "Article 2",
        "{one}"
    );

    let (folders, _) = api.all_pages("/solutions/categories/1/folders").await;
    let visibility: Vec<(i64, i64)> = folders
        .iter()
        .map(|f| (f["id"].as_i64().unwrap(), f["visibility"].as_i64().unwrap()))
        .collect();
    assert_eq!(visibility, vec![(10, 1), (20, 3), (30, 1)]);
    let folder = api.get("/solutions/folders/20").await;
    assert_eq!(folder.status, 200);
    assert_eq!(
        (
            &folder.json()["visibility"],
            &folder.json()["articles_count"]
        ),
        (&json!(3), &json!(1))
    );
    assert_eq!(api.get("/solutions/folders/99").await.status, 404);
}

fn canned(id: i64, folder: Option<i64>) -> CannedResponse {
    CannedResponse {
        id,
        title: format!("Answer {id}"),
        folder_id: folder,
        content: format!(
            "Hi {{{{ticket.requester.name}}}}, answer {id}. {{{{ticket.agent.name}}}}"
        ),
        content_html: format!(
            "<div>Hi {{{{ticket.requester.name}}}}, answer {id}. {{{{ticket.agent.name}}}}</div>"
        ),
        created_at: ts(id),
        updated_at: ts(id + 100),
    }
}

/// Folders 1 "Billing" (3 responses), 2 "Empty", 3 "Personal" (personal, 1 response); one
/// response names an unknown folder and one none: both land in the default "General" folder.
fn canned_bundle() -> Bundle {
    let folder = |id: i64, name: &str, personal: bool| CannedFolder {
        id,
        name: name.into(),
        personal,
    };
    Bundle {
        canned_responses: vec![
            canned(1, Some(1)),
            canned(2, Some(1)),
            canned(3, Some(1)),
            canned(4, Some(3)),
            canned(5, Some(999)),
            canned(6, None),
        ],
        canned_folders: vec![
            folder(1, "Billing", false),
            folder(2, "Empty", false),
            folder(3, "Personal", true),
        ],
        ..Bundle::default()
    }
}

/// DOC L9690-L9905 (`GET /canned_response_folders`: `[{id, name, personal, responses_count,
/// created_at, updated_at}]`, no content) and SRC `CannedResponseFoldersController#index`
/// (id 22457324576: not paginated, only folders with a visible response).
#[tokio::test]
async fn the_folder_list_is_one_bare_array_without_content_or_pages() {
    let (_stand_in, api) = start(canned_bundle(), StandInConfig::default()).await;
    let answer = api.get("/canned_response_folders?per_page=1").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.credits(), 1);
    assert!(answer.header("link").is_none(), "not paginated");
    let folders = answer.json();
    let summary: Vec<(i64, &str, bool, i64)> = folders
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_i64().unwrap(),
                f["name"].as_str().unwrap(),
                f["personal"] == true,
                f["responses_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "Billing", false, 3),
            (DEFAULT_CANNED_FOLDER, "General", false, 2),
            (3, "Personal", true, 1)
        ],
        "the empty folder is not listed"
    );
    for folder in folders.as_array().unwrap() {
        let mut keys: Vec<&str> = folder
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "created_at",
                "id",
                "name",
                "personal",
                "responses_count",
                "updated_at"
            ]
        );
    }
}

/// DOC L9858-L9905 (a folder lists `canned_responses: [{id, title}]`; its `/responses` are the
/// full objects) and SRC `folder_responses` (id 22169408295: paginated with `Link`); research §2
/// (Liquid placeholders come back unrendered).
#[tokio::test]
async fn a_folder_names_its_responses_and_pages_them_in_full() {
    let (_stand_in, api) = start(canned_bundle(), StandInConfig::default()).await;
    let folder = api.get("/canned_response_folders/1").await.json();
    assert_eq!(folder["name"], "Billing");
    assert_eq!(
        folder["canned_responses"],
        json!([{"id": 1, "title": "Answer 1"}, {"id": 2, "title": "Answer 2"}, {"id": 3, "title": "Answer 3"}])
    );
    let first = api
        .get("/canned_response_folders/1/responses?per_page=2")
        .await;
    assert!(first.header("link").is_some_and(|l| l.contains("page=2")));
    let (responses, pages) = api
        .all_pages("/canned_response_folders/1/responses?per_page=2")
        .await;
    assert_eq!((ids(&responses), pages), (vec![1, 2, 3], 2));
    let full = &responses[0];
    assert_eq!(full["folder_id"], 1);
    assert_eq!(full["attachments"], json!([]));
    assert_eq!(
        full["content"],
        "Hi {{ticket.requester.name}}, answer 1. {{ticket.agent.name}}"
    );
    assert_eq!(
        full["content_html"],
        "<div>Hi {{ticket.requester.name}}, answer 1. {{ticket.agent.name}}</div>"
    );

    let (general, _) = api
        .all_pages(&format!(
            "/canned_response_folders/{DEFAULT_CANNED_FOLDER}/responses"
        ))
        .await;
    assert_eq!(ids(&general), vec![5, 6]);
    assert!(
        general
            .iter()
            .all(|r| r["folder_id"] == DEFAULT_CANNED_FOLDER)
    );
    let one = api.get("/canned_responses/4").await.json();
    assert_eq!(
        (&one["folder_id"], &one["title"]),
        (&json!(3), &json!("Answer 4"))
    );
    assert_eq!(api.get("/canned_responses/99").await.status, 404);
    assert_eq!(api.get("/canned_response_folders/99").await.status, 404);
    assert_eq!(
        api.get("/canned_response_folders/2").await.json()["canned_responses"],
        json!([])
    );
}

/// DOC L9690 ("Only users with admin privileges can access the following APIs"); the 403 body
/// of research §5.
#[tokio::test]
async fn canned_responses_need_an_admin_key() {
    let (_stand_in, api) = start(
        canned_bundle(),
        StandInConfig {
            admin: false,
            ..StandInConfig::default()
        },
    )
    .await;
    for path in [
        "/canned_response_folders",
        "/canned_response_folders/1",
        "/canned_response_folders/1/responses",
        "/canned_responses/1",
    ] {
        let answer = api.get(path).await;
        assert_eq!(answer.status, 403, "{path}");
        assert_eq!(
            answer.json(),
            json!({"code": "access_denied", "message": "You are not authorized to perform this action."})
        );
    }
}
