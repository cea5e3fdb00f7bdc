//! Reading a model's answer text as JSON: the object in it, with the raw control characters
//! that grammar-constrained small models put inside strings escaped first.

use std::borrow::Cow;

/// The first `{` to the last `}` of `content` (tolerating a Markdown fence or words around the
/// object), or `None` when there is no object.
pub fn object_text(content: &str) -> Option<&str> {
    let trimmed = content.trim();
    let start = trimmed.find('{')?;
    let end = trimmed.rfind('}')?;
    (end > start).then(|| &trimmed[start..=end])
}

/// `json` with every raw control character inside a string (a line break, a tab) written as its
/// JSON escape, so that serde_json, which follows the standard strictly, reads it.
///
/// Why: llama.cpp's JSON grammar lets a string hold raw line breaks, and Gemma 3 270M ends most
/// replies with one; strict parsing turned 11 of 20 real answers into fallbacks (issue 20).
/// Outside strings a control character is whitespace or an error, left for serde_json to judge.
pub fn escape_control_characters_in_strings(json: &str) -> Cow<'_, str> {
    if !json.chars().any(|c| c.is_control()) {
        return Cow::Borrowed(json);
    }
    let mut escaped = String::with_capacity(json.len() + 16);
    let mut in_string = false;
    let mut after_backslash = false;
    for c in json.chars() {
        if in_string {
            if after_backslash {
                after_backslash = false;
            } else if c == '\\' {
                after_backslash = true;
            } else if c == '"' {
                in_string = false;
            } else if (c as u32) < 0x20 {
                match c {
                    '\n' => escaped.push_str("\\n"),
                    '\r' => escaped.push_str("\\r"),
                    '\t' => escaped.push_str("\\t"),
                    other => escaped.push_str(&format!("\\u{:04x}", other as u32)),
                }
                continue;
            }
        } else if c == '"' {
            in_string = true;
        }
        escaped.push(c);
    }
    Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_line_breaks_and_tabs_inside_strings_become_escapes() {
        let raw = "{ \"reply\": \"Hello,\nwe refund\tit.\r\n\" ,\"needs_human\": [\"a\u{1}b\"] }";
        let escaped = escape_control_characters_in_strings(raw);
        let value: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(value["reply"], "Hello,\nwe refund\tit.\r\n");
        assert_eq!(value["needs_human"][0], "a\u{1}b");
        // The strict parser refuses the raw text: the escaping is what makes it readable.
        assert!(serde_json::from_str::<serde_json::Value>(raw).is_err());
    }

    #[test]
    fn escaped_quotes_and_backslashes_keep_the_string_boundaries() {
        let raw = "{\"reply\": \"say \\\"hi\\\"\nC:\\\\\", \"x\":\n1}";
        let value: serde_json::Value =
            serde_json::from_str(&escape_control_characters_in_strings(raw)).unwrap();
        assert_eq!(value["reply"], "say \"hi\"\nC:\\");
        assert_eq!(value["x"], 1);
    }

    #[test]
    fn text_without_control_characters_is_not_copied() {
        assert!(matches!(
            escape_control_characters_in_strings("{\"a\": \"b\"}"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn the_object_is_found_inside_a_fence_and_absent_without_braces() {
        assert_eq!(object_text("```json\n{\"a\": 1}\n```"), Some("{\"a\": 1}"));
        assert_eq!(object_text("no object here"), None);
        assert_eq!(object_text("} backwards {"), None);
    }
}
