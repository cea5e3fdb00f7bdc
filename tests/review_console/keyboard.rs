//! Keys for the console's browser test, through the DevTools Protocol's `Input` domain: what a
//! person's keyboard sends (keyDown with its text, then keyUp), and typed text.

use serde_json::json;

use crate::support::cdp::Browser;

/// Presses one key: a single character, or `Enter`, `Escape`, `Tab`, `ArrowDown`, `ArrowUp`.
pub async fn press(browser: &mut Browser, key: &str) {
    let (code, text, virtual_code) = match key {
        "Enter" => ("Enter".to_string(), "\r".to_string(), 13),
        "Escape" => ("Escape".to_string(), String::new(), 27),
        "Tab" => ("Tab".to_string(), String::new(), 9),
        "ArrowDown" => ("ArrowDown".to_string(), String::new(), 40),
        "ArrowUp" => ("ArrowUp".to_string(), String::new(), 38),
        single => {
            let c = single.chars().next().expect("a key");
            let upper = c.to_ascii_uppercase();
            let code = if c.is_ascii_alphabetic() {
                format!("Key{upper}")
            } else {
                match c {
                    '/' => "Slash".into(),
                    '[' => "BracketLeft".into(),
                    ']' => "BracketRight".into(),
                    _ => String::new(),
                }
            };
            (code, single.to_string(), upper as i64)
        }
    };
    let mut down = json!({"type": if text.is_empty() { "rawKeyDown" } else { "keyDown" },
        "key": key, "code": code, "windowsVirtualKeyCode": virtual_code, "nativeVirtualKeyCode": virtual_code});
    if !text.is_empty() {
        down["text"] = json!(text);
        down["unmodifiedText"] = json!(text);
    }
    browser.call("Input.dispatchKeyEvent", down).await;
    browser
        .call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": virtual_code, "nativeVirtualKeyCode": virtual_code}),
        )
        .await;
}

/// Types text into the focused field, as an input method would.
pub async fn type_text(browser: &mut Browser, text: &str) {
    browser
        .call("Input.insertText", json!({"text": text}))
        .await;
}
