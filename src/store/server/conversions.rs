//! Conversions between deskdraft's types and the server's: point ids, filters, payloads and
//! returned vectors.

use std::collections::HashMap;

use qdrant_client::Payload;
use qdrant_client::qdrant::{Condition, DatetimeRange, Filter, PointId, point_id, vector_output};
use uuid::Uuid;

use crate::store::{ChunkPayload, DENSE_VECTOR_NAME, QueryFilter, StoreError};

pub(super) fn point_id(id: Uuid) -> PointId {
    PointId::from(id.to_string())
}

pub(super) fn uuid_of(id: Option<PointId>) -> Uuid {
    match id.and_then(|p| p.point_id_options) {
        Some(point_id::PointIdOptions::Uuid(text)) => Uuid::parse_str(&text).unwrap_or_default(),
        Some(point_id::PointIdOptions::Num(n)) => Uuid::from_u128(u128::from(n)),
        None => Uuid::nil(),
    }
}

pub(super) fn keyword(field: &str, value: &str) -> Condition {
    Condition::matches(field, value.to_string())
}

/// Our filter in the server's terms; the same conditions as the embedded store's.
pub(crate) fn to_server_filter(filter: &QueryFilter) -> Option<Filter> {
    let mut must = Vec::new();
    match filter.source_types.as_slice() {
        [] => {}
        [only] => must.push(keyword("source_type", only.as_str())),
        several => must.push(Condition::from(Filter::should(
            several
                .iter()
                .map(|kind| keyword("source_type", kind.as_str())),
        ))),
    }
    if let Some(product) = &filter.product {
        must.push(Condition::from(Filter::should([
            keyword("product", product),
            Condition::is_empty("product"),
        ])));
    }
    if let Some(before) = filter.created_before {
        must.push(Condition::datetime_range(
            "created_at",
            DatetimeRange {
                lt: Some(prost_types::Timestamp {
                    seconds: before.timestamp(),
                    nanos: before.timestamp_subsec_nanos() as i32,
                }),
                ..Default::default()
            },
        ));
    }
    let must_not: Vec<Condition> = filter
        .exclude_documents
        .iter()
        .map(|key| keyword("doc_key", &key.to_string()))
        .collect();
    if must.is_empty() && must_not.is_empty() {
        return None;
    }
    Some(Filter {
        must,
        must_not,
        ..Default::default()
    })
}

pub(super) fn decode(
    id: Uuid,
    payload: HashMap<String, qdrant_client::qdrant::Value>,
) -> Result<ChunkPayload, StoreError> {
    let json = serde_json::Value::from(Payload::from(payload));
    serde_json::from_value(json).map_err(|e| StoreError::InvalidPayload {
        id: id.to_string(),
        reason: e.to_string(),
    })
}

pub(super) fn dense_of(vectors: Option<&qdrant_client::qdrant::VectorsOutput>) -> Option<Vec<f32>> {
    match vectors?.get_vector_by_name(DENSE_VECTOR_NAME)? {
        vector_output::Vector::Dense(dense) => Some(dense.data),
        _ => None,
    }
}
