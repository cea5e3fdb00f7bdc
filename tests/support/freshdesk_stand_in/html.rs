//! How Freshdesk stores the HTML of notes and replies: `body_html` goes through the Sanitize gem
//! (SRC `Utils::Sanitizer#sanitize_body_hash`, research id 23033492099), which re-parses and
//! re-serialises it, then bare URLs are auto-linked (`FDRinku.auto_link`, `rel="noreferrer"`),
//! and `body` (the API's `body_text`) is the tag-stripped text. Doc samples show the result
//! wrapped in `<div>…</div>` (DOC L3903-L3912, python-freshdesk `reply_1.json`).
//!
//! What this module does, and why:
//! * wraps the body in `<div>…</div>` (DOC samples above);
//! * renames `<p>` to `<div>` (SRC `body_html_with_tags_renamed`, research id 12873481895);
//! * keeps only the Sanitize RELAXED elements and attributes: other tags are unwrapped (their
//!   text kept), `<script>`, `<style>` and similar are removed with their content, `on*`
//!   attributes and `javascript:` links are dropped, comments go;
//! * re-serialises like an HTML5 serialiser (WHATWG "Serialising HTML fragments", escaping a
//!   string): lower-case names, `<br/>` -> `<br>`, every attribute double-quoted, text entities
//!   decoded then re-escaped so only `&amp;`, `&lt;`, `&gt;` and `&nbsp;` remain (`&#39;` -> `'`,
//!   `&quot;` -> `"`), unclosed elements closed, stray end tags dropped.

use html_escape::decode_html_entities;

/// Whether `name` is one of the space-separated names in `list`.
fn listed(list: &str, name: &str) -> bool {
    list.split_ascii_whitespace().any(|n| n == name)
}

/// Elements the RELAXED config keeps (`style`, `title` and the document elements excepted).
const ALLOWED: &str = "\
    a abbr address article aside b bdi bdo blockquote br caption cite code col colgroup data \
    dd del dfn div dl dt em figcaption figure footer h1 h2 h3 h4 h5 h6 header hgroup hr i img \
    ins kbd li main mark nav ol p pre q rp rt ruby s samp section small span strike strong sub \
    summary sup table tbody td tfoot th thead time tr u ul var wbr";
/// Removed together with everything inside them.
const REMOVED: &str = "\
    script style iframe noscript object embed svg math template title textarea select";
const VOID: &str = "br hr img wbr col input meta link area base embed source track param";
/// Start tags that close an open `<p>` (HTML5 tree construction).
const CLOSES_P: &str = "\
    address article aside blockquote div dl figure footer h1 h2 h3 h4 h5 h6 header hr ol p \
    pre section table ul";
const GLOBAL_ATTRIBUTES: &str = "class dir hidden id lang title translate";

/// Attributes RELAXED keeps on an element besides the global ones.
fn element_attributes(element: &str) -> &'static str {
    match element {
        "a" => "href hreflang name rel target",
        "img" => "align alt border height src width",
        "col" | "colgroup" => "span width",
        "td" | "th" => "abbr colspan rowspan headers scope",
        "table" => "align border cellpadding cellspacing summary width",
        "ol" => "reversed start type",
        "ul" => "type",
        "li" => "value",
        "blockquote" | "q" | "del" | "ins" => "cite",
        "time" => "datetime",
        _ => "",
    }
}

enum Token {
    Text(String),
    Start {
        name: String,
        attributes: Vec<(String, String)>,
    },
    End(String),
}

/// Splits HTML into text and tags; comments and doctypes are dropped, and the content of
/// `script`/`style` is one raw text token.
fn tokenize(html: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut text = String::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        text.push_str(&rest[..at]);
        rest = &rest[at..];
        let next = rest[1..].chars().next();
        if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |end| &rest[end + 3..]);
        } else if matches!(next, Some('!' | '?')) {
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
        } else if next == Some('/') && rest[2..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            let end = rest.find('>').unwrap_or(rest.len());
            let name: String = rest[2..end]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            flush(&mut text, &mut tokens);
            tokens.push(Token::End(name.to_ascii_lowercase()));
            rest = rest.get(end + 1..).unwrap_or("");
        } else if next.is_some_and(|c| c.is_ascii_alphabetic()) {
            let (token, after) = start_tag(&rest[1..]);
            flush(&mut text, &mut tokens);
            let raw_text =
                matches!(&token, Token::Start { name, .. } if name == "script" || name == "style");
            let name = match &token {
                Token::Start { name, .. } => name.clone(),
                _ => String::new(),
            };
            tokens.push(token);
            rest = after;
            if raw_text {
                let close = format!("</{name}");
                let end = rest.to_ascii_lowercase().find(&close).unwrap_or(rest.len());
                tokens.push(Token::Text(rest[..end].to_owned()));
                rest = &rest[end..];
            }
        } else {
            // A `<` that opens no tag is text (HTML5).
            text.push('<');
            rest = &rest[1..];
        }
    }
    text.push_str(rest);
    flush(&mut text, &mut tokens);
    tokens
}

fn flush(text: &mut String, tokens: &mut Vec<Token>) {
    if !text.is_empty() {
        tokens.push(Token::Text(std::mem::take(text)));
    }
}

/// Parses `name attr=value ...>` (after the `<`); returns the token and the input after `>`.
fn start_tag(input: &str) -> (Token, &str) {
    let name_end = input
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(input.len());
    let name = input[..name_end].to_ascii_lowercase();
    let mut rest = &input[name_end..];
    let mut attributes: Vec<(String, String)> = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix('>') {
            rest = after;
            break;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '=' | '>' | '/'))
            .unwrap_or(rest.len())
            .max(1);
        let attribute = rest[..end].to_ascii_lowercase();
        rest = rest[end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            if let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = &after[1..];
                let close = body.find(quote).unwrap_or(body.len());
                value = body[..close].to_owned();
                rest = body.get(close + 1..).unwrap_or("");
            } else {
                let close = after
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(after.len());
                value = after[..close].to_owned();
                rest = &after[close..];
            }
        }
        if !attributes.iter().any(|(name, _)| *name == attribute) {
            attributes.push((attribute, decode_html_entities(&value).into_owned()));
        }
    }
    (Token::Start { name, attributes }, rest)
}

fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\u{a0}' => out.push_str("&nbsp;"),
            c => out.push(c),
        }
    }
}

fn escape_attribute(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\u{a0}' => out.push_str("&nbsp;"),
            c => out.push(c),
        }
    }
}

fn safe_url(value: &str) -> bool {
    let compact: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    match compact.split_once(':') {
        Some((scheme, _)) if !scheme.contains('/') && !scheme.contains('?') => {
            ["http", "https", "mailto", "ftp", "tel"].contains(&scheme)
        }
        _ => true,
    }
}

/// Text with bare `http(s)://` URLs turned into links, as `FDRinku.auto_link` does.
fn auto_link(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(at) = ["http://", "https://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        escape_text(&rest[..at], out);
        let tail = &rest[at..];
        let mut end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
            .unwrap_or(tail.len());
        while end > 0 && tail[..end].ends_with(['.', ',', ';', ':', '!', '?', '\'', ')']) {
            let opened = tail[..end].matches('(').count();
            if tail[..end].ends_with(')') && opened >= tail[..end].matches(')').count() {
                break;
            }
            end -= 1;
        }
        let url = &tail[..end];
        if url.len() <= "https://".len() {
            escape_text(url, out);
        } else {
            out.push_str("<a href=\"");
            escape_attribute(url, out);
            out.push_str("\" rel=\"noreferrer\">");
            escape_text(url, out);
            out.push_str("</a>");
        }
        rest = &tail[end..];
    }
    escape_text(rest, out);
}

fn close_to(stack: &mut Vec<String>, index: usize, out: &mut String) {
    while stack.len() > index {
        let name = stack.pop().unwrap_or_default();
        out.push_str(&format!("</{name}>"));
    }
}

/// The HTML Freshdesk stores for `html` (see the module comment).
pub fn rewrite(html: &str) -> String {
    let mut out = String::from("<div>");
    // Open elements by their serialised names (`p` is already `div` here).
    let mut stack: Vec<String> = Vec::new();
    // Source names of the open elements, for matching end tags and implied closes.
    let mut source: Vec<String> = Vec::new();
    let mut skipping: Option<(String, usize)> = None;
    for token in tokenize(html) {
        if let Some((name, depth)) = &mut skipping {
            match &token {
                Token::Start { name: n, .. } if n == name => *depth += 1,
                Token::End(n) if n == name => {
                    *depth -= 1;
                    if *depth == 0 {
                        skipping = None;
                    }
                }
                _ => {}
            }
            continue;
        }
        match token {
            Token::Text(text) => {
                let text = decode_html_entities(&text);
                if source.iter().any(|n| n == "a") {
                    escape_text(&text, &mut out);
                } else {
                    auto_link(&text, &mut out);
                }
            }
            Token::Start { name, attributes } => {
                if listed(REMOVED, &name) {
                    if !listed(VOID, &name) {
                        skipping = Some((name, 1));
                    }
                    continue;
                }
                if listed(CLOSES_P, &name)
                    && let Some(index) = source.iter().rposition(|n| n == "p")
                {
                    close_to(&mut stack, index, &mut out);
                    source.truncate(index);
                }
                if let Some(sibling) = match name.as_str() {
                    "li" => Some(&["li"][..]),
                    "dt" | "dd" => Some(&["dt", "dd"][..]),
                    _ => None,
                } {
                    let list = source
                        .iter()
                        .rposition(|n| ["ul", "ol", "dl"].contains(&n.as_str()));
                    if let Some(index) = source.iter().rposition(|n| sibling.contains(&n.as_str()))
                        && list.is_none_or(|l| index > l)
                    {
                        close_to(&mut stack, index, &mut out);
                        source.truncate(index);
                    }
                }
                if !listed(ALLOWED, &name) {
                    continue;
                }
                let output = if name == "p" { "div" } else { name.as_str() };
                out.push('<');
                out.push_str(output);
                let allowed = element_attributes(&name);
                for (attribute, value) in &attributes {
                    let keep = !attribute.starts_with("on")
                        && (listed(GLOBAL_ATTRIBUTES, attribute) || listed(allowed, attribute))
                        && (!matches!(attribute.as_str(), "href" | "src") || safe_url(value));
                    if keep {
                        out.push_str(&format!(" {attribute}=\""));
                        escape_attribute(value, &mut out);
                        out.push('"');
                    }
                }
                out.push('>');
                if !listed(VOID, &name) {
                    stack.push(output.to_owned());
                    source.push(name);
                }
            }
            Token::End(name) => {
                if name == "br" {
                    out.push_str("<br>");
                } else if let Some(index) = source.iter().rposition(|n| *n == name) {
                    close_to(&mut stack, index, &mut out);
                    source.truncate(index);
                }
            }
        }
    }
    close_to(&mut stack, 0, &mut out);
    out.push_str("</div>");
    out
}

/// Block elements whose edges are line breaks in the text.
const BLOCKS: &str = "\
    address article aside blockquote dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 \
    header hr li ol p pre section table tr ul";

/// `body_text`: tags dropped, entities decoded, whitespace collapsed, block edges and `<br>` as
/// line breaks, no leading or trailing blank.
pub fn plain_text(html: &str) -> String {
    let mut out = String::new();
    let line_break = |out: &mut String| {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
    };
    let mut skipping = 0usize;
    for token in tokenize(html) {
        match token {
            Token::Start { name, .. } if name == "script" || name == "style" => skipping += 1,
            Token::End(name) if name == "script" || name == "style" => {
                skipping = skipping.saturating_sub(1)
            }
            _ if skipping > 0 => {}
            Token::Start { name, .. } | Token::End(name) if name == "br" => out.push('\n'),
            Token::Start { name, .. } | Token::End(name) if listed(BLOCKS, &name) => {
                line_break(&mut out)
            }
            Token::Start { name, .. } | Token::End(name) if name == "td" || name == "th" => {
                if !out.is_empty() && !out.ends_with([' ', '\n']) {
                    out.push(' ');
                }
            }
            Token::Text(text) => {
                let decoded = decode_html_entities(&text).replace('\u{a0}', " ");
                let mut collapsed = String::with_capacity(decoded.len());
                for c in decoded.chars() {
                    if c.is_whitespace() {
                        if !collapsed.ends_with(' ') {
                            collapsed.push(' ');
                        }
                    } else {
                        collapsed.push(c);
                    }
                }
                let piece = if out.is_empty() || out.ends_with('\n') || out.ends_with(' ') {
                    collapsed.trim_start()
                } else {
                    collapsed.as_str()
                };
                out.push_str(piece);
            }
            _ => {}
        }
    }
    out.lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}
