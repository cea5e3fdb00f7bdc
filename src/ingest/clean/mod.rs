//! Text cleaning for helpdesk messages: HTML to plain text, quoted-history and
//! signature stripping, whitespace normalisation, URL extraction, and the
//! greeting/sign-off split plus anonymisation used to reuse past agent replies.

use html2text::render::{TaggedLine, TextDecorator};
use html2text::{Element, Handle};
use once_cell::sync::Lazy;
use regex::Regex;

/// Private-use sentinels wrapping links in html2text output, so the link label and
/// its URL can be recombined afterwards ("label (URL)" or just "URL").
const LINK_OPEN: char = '\u{E000}';
const LINK_MID: char = '\u{E001}';
const LINK_CLOSE: char = '\u{E002}';

/// Wide enough that html2text never re-wraps prose; we want the author's lines.
const RENDER_WIDTH: usize = 10_000;

fn re(pattern: &str) -> Regex {
    // Patterns are compile-time constants covered by tests; a typo is a programmer
    // error, not a user-data failure.
    Regex::new(pattern).expect("static regex must compile")
}

static LINK_RE: Lazy<Regex> = Lazy::new(|| re("(?s)\u{E000}([^\u{E001}]*)\u{E001}(.*?)\u{E002}"));
static URL_RE: Lazy<Regex> =
    Lazy::new(|| re(r#"(?i)\bhttps?://[^\s<>"'`{}|\\^\u{E000}-\u{E002}]+"#));

/// Renders links as sentinel-delimited spans and drops all other decoration: the
/// output feeds retrieval and LLM prompts, where `*bold*` markers are just noise.
#[derive(Clone, Debug, Default)]
struct PlainLinks;

/// Emphasis-like decorations render as nothing.
macro_rules! no_markup {
    ($($start:ident / $end:ident),*) => {$(
        fn $start(&self) -> (String, ()) { (String::new(), ()) }
        fn $end(&self) -> String { String::new() }
    )*};
}

impl TextDecorator for PlainLinks {
    type Annotation = ();
    fn decorate_link_start(&mut self, url: &str) -> (String, ()) {
        (format!("{LINK_OPEN}{url}{LINK_MID}"), ())
    }
    fn decorate_link_end(&mut self) -> String {
        LINK_CLOSE.to_string()
    }
    no_markup!(
        decorate_em_start / decorate_em_end,
        decorate_strong_start / decorate_strong_end,
        decorate_strikeout_start / decorate_strikeout_end,
        decorate_code_start / decorate_code_end
    );
    fn decorate_preformat_first(&self) {}
    fn decorate_preformat_cont(&self) {}
    fn decorate_image(&mut self, _src: &str, title: &str) -> (String, ()) {
        (format!("[image: {title}]"), ())
    }
    fn header_prefix(&self, _level: usize) -> String {
        String::new()
    }
    fn quote_prefix(&self) -> String {
        "> ".to_string()
    }
    fn unordered_item_prefix(&self) -> String {
        "- ".to_string()
    }
    fn ordered_item_prefix(&self, i: i64) -> String {
        format!("{i}. ")
    }
    fn make_subblock_decorator(&self) -> Self {
        PlainLinks
    }
    fn finalise(&mut self, _urls: Vec<String>) -> Vec<TaggedLine<()>> {
        Vec::new()
    }
}

/// Elements whose content is never part of what the sender wrote this time.
const DROPPED_TAGS: &[&str] = &[
    "script",
    "style",
    "head",
    "title",
    "noscript",
    "template",
    "blockquote",
];
/// Classes/ids mail clients put on quoted earlier messages (Freshdesk, Gmail,
/// Thunderbird, Yahoo, Proton, Outlook web).
const QUOTE_MARKERS: &[&str] = &[
    "freshdesk_quote",
    "gmail_quote",
    "gmail_attr",
    "moz-cite-prefix",
    "yahoo_quoted",
    "protonmail_quote",
    "divrplyfwdmsg",
];

fn should_drop(node: &Handle) -> bool {
    let Element { name, attrs, .. } = &node.data else {
        return false;
    };
    if DROPPED_TAGS.contains(&&*name.local) {
        return true;
    }
    attrs.borrow().iter().any(|a| {
        let value = a.value.to_ascii_lowercase();
        match &*a.name.local {
            "class" => value.split_whitespace().any(|c| QUOTE_MARKERS.contains(&c)),
            "id" => QUOTE_MARKERS.contains(&value.as_str()),
            // Hidden preheaders and tracking blocks are invisible to the reader.
            "style" => value.replace(' ', "").contains("display:none"),
            _ => false,
        }
    })
}

/// Drops quoted and invisible elements, iteratively: a message nested thousands of levels deep
/// must not overflow the stack.
fn prune(root: &Handle) {
    let mut pending = vec![root.clone()];
    while let Some(node) = pending.pop() {
        node.children.borrow_mut().retain(|c| !should_drop(c));
        pending.extend(node.children.borrow().iter().cloned());
    }
}

/// The most HTML of one message that is parsed; the rest is dropped. A support message is a few
/// kilobytes; a megabyte of markup is a pasted log, an attack, or both.
pub const MAX_HTML_BYTES: usize = 512 * 1024;
/// Nesting beyond which a message is not parsed as a tree but stripped of tags: the HTML parser
/// and renderer walk the tree recursively.
pub const MAX_HTML_NESTING: usize = 256;

const VOID_ELEMENTS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Whether the markup may nest deeper than `limit` (an over-estimate: unclosed elements count
/// as open, so sloppy HTML errs on the safe side).
fn nests_deeper_than(html: &str, limit: usize) -> bool {
    let bytes = html.as_bytes();
    let mut depth = 0usize;
    let mut index = 0;
    while let Some(offset) = html[index..].find('<') {
        let start = index + offset + 1;
        index = start;
        match bytes.get(start) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(c) if c.is_ascii_alphabetic() => {
                let name_end = html[start..]
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .map_or(html.len(), |n| start + n);
                let name = html[start..name_end].to_ascii_lowercase();
                let tag_end = html[start..].find('>').map(|n| start + n);
                let self_closing = tag_end.is_some_and(|end| end > 0 && bytes[end - 1] == b'/');
                if !VOID_ELEMENTS.contains(&name.as_str()) && !self_closing {
                    depth += 1;
                    if depth > limit {
                        return true;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

/// At most `MAX_HTML_BYTES`, cut at a character boundary.
fn bounded(html: &str) -> &str {
    if html.len() <= MAX_HTML_BYTES {
        return html;
    }
    let mut end = MAX_HTML_BYTES;
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    &html[..end]
}

/// `scheme://www.host/path/` and `host/path` compare equal, so a link whose label is
/// its own URL is not printed twice.
fn same_link(label: &str, url: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim().to_ascii_lowercase();
        let s = s
            .split_once("://")
            .map_or(s.clone(), |(_, rest)| rest.to_string());
        s.trim_start_matches("www.")
            .trim_end_matches('/')
            .to_string()
    };
    norm(label) == norm(url)
}

fn render_link(label: &str, url: &str) -> String {
    let label = label.trim();
    let url = url.trim();
    if let Some(addr) = url.strip_prefix("mailto:") {
        let addr = addr.split('?').next().unwrap_or(addr);
        return if label.is_empty() || label.eq_ignore_ascii_case(addr) {
            addr.to_string()
        } else {
            format!("{label} ({addr})")
        };
    }
    // In-page anchors and script links carry no information for the reader.
    if url.is_empty() || url.starts_with('#') || url.to_ascii_lowercase().starts_with("javascript:")
    {
        return label.to_string();
    }
    if label.is_empty() || same_link(label, url) {
        url.to_string()
    } else {
        format!("{label} ({url})")
    }
}

/// Convert an HTML message body to readable plain text (see module docs). Bodies are cut to
/// [`MAX_HTML_BYTES`]; markup nested deeper than [`MAX_HTML_NESTING`] is stripped of its tags
/// instead of parsed.
pub fn html_to_text(html: &str) -> String {
    // Our sentinels must not come from the input, or link rewriting would misfire.
    let html: String = bounded(html)
        .chars()
        .filter(|c| !matches!(*c, LINK_OPEN | LINK_MID | LINK_CLOSE))
        .collect();
    if nests_deeper_than(&html, MAX_HTML_NESTING) {
        // A tag cut short by the size limit goes too.
        let stripped = re("<[^>]*(?:>|$)").replace_all(&html, " ");
        return normalize_whitespace(&html_escape::decode_html_entities(&stripped));
    }
    let config = html2text::config::with_decorator(PlainLinks)
        .no_table_borders()
        .no_link_wrapping()
        .link_footnotes(false);
    let rendered = config
        .parse_html(html.as_bytes())
        .and_then(|dom| {
            prune(&dom.document);
            config.dom_to_render_tree(&dom)
        })
        .and_then(|tree| config.render_to_string(tree, RENDER_WIDTH));
    let text = match rendered {
        Ok(text) => LINK_RE
            .replace_all(&text, |c: &regex::Captures| render_link(&c[2], &c[1]))
            .into_owned(),
        // html5ever is tolerant, so this is near-unreachable; degrade to tag stripping
        // rather than losing the message.
        Err(_) => re("<[^>]*>").replace_all(&html, " ").into_owned(),
    };
    let text: String = text
        .chars()
        .filter(|c| {
            !matches!(
                *c,
                LINK_OPEN | LINK_MID | LINK_CLOSE | '\u{200B}' | '\u{FEFF}'
            )
        })
        .map(|c| if c == '\u{A0}' { ' ' } else { c })
        .collect();
    collapse_blank_lines(&text)
}

/// Trim line ends and keep at most one blank line in a row, without touching
/// indentation (html2text indents nested lists and `<pre>`).
fn collapse_blank_lines(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    out.join("\n").trim().to_string()
}

/// Collapse runs of spaces/tabs, trim lines, keep at most one blank line, trim.
pub fn normalize_whitespace(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let line: String = line
            .chars()
            .filter(|c| !matches!(c, '\u{200B}' | '\u{FEFF}'))
            .collect::<String>()
            .split(|c: char| c.is_whitespace())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// Full cleaning pipeline for one message. Falls back to the plain-text part when
/// the HTML is empty or renders to nothing.
pub fn clean_message_html(html: &str, text_fallback: Option<&str>) -> String {
    let fallback = text_fallback.unwrap_or("");
    let mut text = if html.trim().is_empty() {
        String::new()
    } else {
        html_to_text(html)
    };
    if text.trim().is_empty() {
        text = fallback.to_string();
    }
    normalize_whitespace(&strip_signature(&strip_quoted_history(&text)))
}

/// Trim sentence punctuation that regexes glue onto URLs, keeping a closing
/// parenthesis when the URL itself opened one (Wikipedia-style paths).
fn trim_url(url: &str) -> &str {
    let mut url = url;
    loop {
        let Some(last) = url.chars().last() else {
            return url;
        };
        let unbalanced_paren = last == ')' && url.matches('(').count() < url.matches(')').count();
        if matches!(
            last,
            '.' | ',' | ';' | ':' | '!' | '?' | ']' | '\'' | '"' | '*'
        ) || unbalanced_paren
        {
            url = &url[..url.len() - last.len_utf8()];
        } else {
            return url;
        }
    }
}

/// http(s) URLs in order of first appearance, deduplicated.
pub fn extract_urls(text: &str) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for m in URL_RE.find_iter(text) {
        let url = trim_url(m.as_str());
        if url.contains("://") && !url.ends_with("://") && !urls.iter().any(|u| u == url) {
            urls.push(url.to_string());
        }
    }
    urls
}

/// Top-level domains a written-out address ends in. A closed list: `Node.js`, `v1.2` or
/// `report.pdf` are not addresses, and a model's invented link is nearly always one of these.
const COMMON_TLDS: &[&str] = &[
    "com", "net", "org", "io", "co", "ai", "app", "dev", "info", "biz", "me", "us", "uk", "de",
    "fr", "es", "it", "nl", "be", "ch", "at", "se", "no", "dk", "fi", "pl", "pt", "ie", "eu", "ca",
    "au", "nz", "in", "jp", "cn", "ru", "br", "mx", "ly", "gl", "to", "tv", "cc", "xyz", "online",
    "site", "shop", "store", "link", "click", "help", "support", "example", "gov", "edu",
];

static BARE_DOMAIN_RE: Lazy<Regex> = Lazy::new(|| {
    re(
        r"(?i)(?:^|[^@\w.\-/])((?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+([a-z]{2,24})(?:[/?#][^\s<>()\x22']*)?)",
    )
});

/// Addresses written without a scheme (`evil.example/login`, `www.acme.com`), in order of first
/// appearance: a reader types them into a browser just the same. E-mail domains and the hosts
/// inside http(s) URLs are not counted.
pub fn extract_bare_domains(text: &str) -> Vec<String> {
    let without_urls = URL_RE.replace_all(text, " ");
    let mut found: Vec<String> = Vec::new();
    for captures in BARE_DOMAIN_RE.captures_iter(&without_urls) {
        let tld = captures[2].to_ascii_lowercase();
        if !COMMON_TLDS.contains(&tld.as_str()) {
            continue;
        }
        let address = trim_url(&captures[1]).to_string();
        if !found.contains(&address) {
            found.push(address);
        }
    }
    found
}

mod history;
mod reuse;

pub use history::{strip_quoted_history, strip_signature};
pub use reuse::{anonymize_for_reuse, anonymize_handles, strip_greeting_and_signoff};

#[cfg(test)]
mod tests;
