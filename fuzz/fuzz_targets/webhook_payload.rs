//! The webhook body parser: never a panic; an `Ok` id is positive; and an id is never taken
//! when the payload is valid JSON whose `ticket_id` fields (top level or inside the
//! `freshdesk_webhook` wrapper, duplicates included: serde_json keeps only the last) name
//! different ids, which is how customer text injected through an unescaped placeholder looks.
#![no_main]

use std::collections::BTreeSet;
use std::fmt;

use libfuzzer_sys::fuzz_target;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// Every value under `ticket_id` keys of an object and of its `freshdesk_webhook` object.
#[derive(Default)]
struct TicketIdFields(Vec<Value>);

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = TicketIdFields;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TicketIdFields, A::Error> {
        let mut fields = TicketIdFields::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "ticket_id" => fields.0.push(map.next_value()?),
                "freshdesk_webhook" => fields.0.extend(map.next_value::<TicketIdFields>()?.0),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(fields)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<TicketIdFields, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TicketIdFields::default())
    }
    fn visit_bool<E>(self, _: bool) -> Result<TicketIdFields, E> {
        Ok(TicketIdFields::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<TicketIdFields, E> {
        Ok(TicketIdFields::default())
    }
    fn visit_u64<E>(self, _: u64) -> Result<TicketIdFields, E> {
        Ok(TicketIdFields::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<TicketIdFields, E> {
        Ok(TicketIdFields::default())
    }
    fn visit_str<E>(self, _: &str) -> Result<TicketIdFields, E> {
        Ok(TicketIdFields::default())
    }
    fn visit_unit<E>(self) -> Result<TicketIdFields, E> {
        Ok(TicketIdFields::default())
    }
}

impl<'de> serde::Deserialize<'de> for TicketIdFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldsVisitor)
    }
}

/// What a field's value reads as, the way a person would: a number, or digits in a string
/// (with the spaces, `#` and sign Rust's integer parser tolerates). Only positive ones are ids.
fn readable_id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().trim_start_matches('#').parse().ok(),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let result = deskdraft::serve::ticket_id_from_payload(data);
    let id = match result {
        Ok(id) => id,
        Err(message) => {
            assert!(!message.is_empty());
            return;
        }
    };
    assert!(id > 0, "non-positive id {id}");
    let text = String::from_utf8_lossy(data);
    if let Ok(fields) = serde_json::from_str::<TicketIdFields>(&text) {
        let named: BTreeSet<i64> = fields
            .0
            .iter()
            .filter_map(readable_id)
            .filter(|id| *id > 0)
            .collect();
        assert!(
            named.len() <= 1,
            "took {id} from a payload whose ticket_id fields name {named:?}"
        );
    }
});
