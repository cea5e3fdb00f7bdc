//! Translations between deskdraft's store types and Qdrant Edge's: filters, points, payloads,
//! ids and query vectors.

use qdrant_edge::{
    Condition, DateTimeWrapper, FieldCondition, Filter, JsonPath, Match, NamedQuery, PointId,
    PointStruct, QueryEnum, Range, ScoringQuery, ValueVariants, Vector, VectorInternal,
    VectorStructInternal, Vectors,
};
use uuid::Uuid;

use super::super::{
    ChunkPayload, DENSE_VECTOR_NAME, QueryFilter, SPARSE_VECTOR_NAME, StoreError, StoredPoint,
};
use crate::domain::DocumentKey;

pub(super) fn json_path(field: &str) -> JsonPath {
    field
        .try_into()
        .expect("static payload field names are valid JSON paths")
}

pub(super) fn operation_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Operation(error.to_string())
}

pub(super) fn keyword(field: &str, value: &str) -> Condition {
    Condition::Field(FieldCondition::new_match(
        json_path(field),
        Match::new_value(ValueVariants::String(value.to_string())),
    ))
}

/// `product` missing or empty. Built from JSON because the edge crate does not re-export the
/// field type this condition wraps.
pub(super) fn product_is_empty() -> Condition {
    serde_json::from_value(serde_json::json!({ "is_empty": { "key": "product" } }))
        .expect("a static is_empty condition parses")
}

pub(super) fn document_condition(key: &DocumentKey) -> Condition {
    keyword("doc_key", &key.to_string())
}

/// Translate our filter into Qdrant's; `None` when nothing restricts the query.
pub(crate) fn to_qdrant_filter(filter: &QueryFilter) -> Option<Filter> {
    let mut must = Vec::new();
    match filter.source_types.as_slice() {
        [] => {}
        [only] => must.push(keyword("source_type", only.as_str())),
        several => must.push(Condition::Filter(Filter {
            should: Some(
                several
                    .iter()
                    .map(|kind| keyword("source_type", kind.as_str()))
                    .collect(),
            ),
            ..Filter::new()
        })),
    }
    if let Some(product) = &filter.product {
        // Same product, or a document that belongs to no product (e.g. a general article).
        let either = Filter {
            should: Some(vec![keyword("product", product), product_is_empty()]),
            ..Filter::new()
        };
        must.push(Condition::Filter(either));
    }
    if let Some(before) = filter.created_before {
        must.push(Condition::Field(FieldCondition::new_datetime_range(
            json_path("created_at"),
            Range {
                lt: Some(DateTimeWrapper(before)),
                gt: None,
                gte: None,
                lte: None,
            },
        )));
    }
    let must_not: Vec<Condition> = filter
        .exclude_documents
        .iter()
        .map(document_condition)
        .collect();
    if must.is_empty() && must_not.is_empty() {
        return None;
    }
    Some(Filter {
        must: (!must.is_empty()).then_some(must),
        must_not: (!must_not.is_empty()).then_some(must_not),
        ..Filter::new()
    })
}

pub(super) fn to_point(
    point: StoredPoint,
) -> Result<qdrant_edge::PointStructPersisted, StoreError> {
    let sparse =
        Vector::new_sparse(point.sparse_indices, point.sparse_values).map_err(operation_error)?;
    let payload = serde_json::to_value(&point.payload).map_err(operation_error)?;
    let vectors = Vectors::new_named([
        (DENSE_VECTOR_NAME, Vector::new_dense(point.dense)),
        (SPARSE_VECTOR_NAME, sparse),
    ]);
    Ok(PointStruct::new(PointId::Uuid(point.id), vectors, payload).into())
}

pub(super) fn point_uuid(id: &PointId) -> Uuid {
    match id {
        PointId::Uuid(uuid) => *uuid,
        // We only ever write UUIDs; a numeric id would come from a foreign writer.
        PointId::NumId(n) => Uuid::from_u128(u128::from(*n)),
    }
}

pub(super) fn decode_payload(
    id: &PointId,
    payload: Option<qdrant_edge::Payload>,
) -> Result<ChunkPayload, StoreError> {
    let map = payload.map(|p| p.0).unwrap_or_default();
    serde_json::from_value(serde_json::Value::Object(map.into_iter().collect())).map_err(|e| {
        StoreError::InvalidPayload {
            id: format!("{id:?}"),
            reason: e.to_string(),
        }
    })
}

pub(super) fn dense_of(vector: Option<VectorStructInternal>) -> Option<Vec<f32>> {
    match vector? {
        VectorStructInternal::Named(mut named) => match named.remove(DENSE_VECTOR_NAME)? {
            VectorInternal::Dense(values) => Some(values),
            _ => None,
        },
        VectorStructInternal::Single(values) => Some(values),
        VectorStructInternal::MultiDense(_) => None,
    }
}

pub(super) fn nearest(vector: VectorInternal, using: &str) -> Option<ScoringQuery> {
    Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
        query: vector,
        using: Some(using.to_string()),
    })))
}
