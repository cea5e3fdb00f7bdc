//! The page shell every console page shares (top bar with navigation and sign-out, skip link,
//! the stylesheet and script), escaping helpers, and the two static assets.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

pub async fn console_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        CSS,
    )
        .into_response()
}

pub async fn console_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        JS,
    )
        .into_response()
}

pub fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

pub fn attribute(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

/// Which navigation entry a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Queue,
    Lead,
}

/// A whole console page. `page` names it for the script (`queue`, `draft`, `lead`);
/// `body_data` adds `data-*` attributes (already escaped) to `<body>`.
pub fn shell(
    title: &str,
    page: &str,
    section: Section,
    csrf: &str,
    body_data: &str,
    main: &str,
) -> Html<String> {
    let current = |s: Section| {
        if s == section {
            " aria-current=\"page\""
        } else {
            ""
        }
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/console/console.css\">\
         <script src=\"/console/console.js\" defer></script></head>\
         <body data-page=\"{page}\"{body_data}><a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header class=\"top\"><h1>deskdraft</h1><nav aria-label=\"Console\"><ul>\
         <li><a id=\"nav-queue\" href=\"/\"{}>Review queue</a></li>\
         <li><a id=\"nav-lead\" href=\"/lead\"{}>Lead's view</a></li></ul></nav>\
         <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button class=\"btn\" type=\"submit\">Sign out</button></form></header>\
         <main id=\"main\">{main}</main></body></html>",
        current(Section::Queue),
        current(Section::Lead),
        title = escape(title),
        csrf = attribute(csrf),
    ))
}

/// A simple page outside the console's navigation (sign-in, errors).
pub fn plain(title: &str, main: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"/console/console.css\"></head>\
         <body><header class=\"top\"><h1>deskdraft</h1></header><main id=\"main\">{main}</main></body></html>",
        escape(title)
    ))
}

/// The keyboard shortcuts of a page, as shown on it.
pub fn shortcuts(entries: &[(&str, &str)]) -> String {
    let items: String = entries
        .iter()
        .map(|(keys, what)| {
            let keys: Vec<String> = keys
                .split(' ')
                .map(|k| format!("<kbd>{}</kbd>", escape(k)))
                .collect();
            format!("<dt>{}</dt><dd>{}</dd>", keys.join(" "), escape(what))
        })
        .collect();
    format!(
        "<section class=\"shortcuts\" aria-labelledby=\"shortcuts-title\"><h3 id=\"shortcuts-title\">Keyboard shortcuts</h3><dl>{items}</dl></section>"
    )
}

/// "3 hours ago", "2 days ago".
pub fn ago(at: chrono::DateTime<chrono::Utc>) -> String {
    let seconds = (chrono::Utc::now() - at).num_seconds().max(0);
    let (value, unit) = match seconds {
        s if s < 60 => return "just now".into(),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{value} {unit}{} ago", if value == 1 { "" } else { "s" })
}

pub fn percent(value: Option<f64>) -> String {
    value.map_or("–".to_string(), |v| format!("{:.0}%", v * 100.0))
}
