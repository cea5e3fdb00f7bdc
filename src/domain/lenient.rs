//! Serde helpers that treat `null` like a missing field.

use serde::{Deserialize, Deserializer};

/// Deserialises `null` as `T::default()`; Freshdesk sends `null` for empty strings and lists.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
