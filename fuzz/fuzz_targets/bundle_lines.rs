//! The bundle line reader over tickets, articles and canned responses: never a panic, every
//! error names the reader and a line number within the input, reading always ends, and what
//! was read writes back (as `export` does) to the same item.
#![no_main]

use std::io::Cursor;

use deskdraft::domain::{Article, CannedResponse, Ticket};
use deskdraft::helpdesk::bundle::{BundleError, JsonLines};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn read_all<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let lines = data.split(|b| *b == b'\n').count();
    let reader = JsonLines::<T>::from_reader("fuzz.jsonl", Cursor::new(data.to_vec()));
    // Each item consumes at least one line, so more items than lines means it never ends.
    let mut items = 0;
    for item in reader {
        items += 1;
        assert!(items <= lines, "more items than lines");
        match item {
            Ok(item) => {
                let line = serde_json::to_string(&item).expect("an item read serialises");
                let again: T = serde_json::from_str(&line).expect("a written line reads back");
                assert_eq!(again, item, "{line}");
            }
            Err(BundleError::InvalidLine { path, line, .. }) => {
                assert_eq!(path, "fuzz.jsonl");
                assert!((1..=lines).contains(&line), "line {line} of {lines}");
            }
            Err(other) => panic!("unexpected error kind: {other}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    read_all::<Ticket>(data);
    read_all::<Article>(data);
    read_all::<CannedResponse>(data);
});
