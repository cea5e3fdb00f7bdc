//! The shared backend: a PostgreSQL database several `serve` replicas use at once, through a
//! `deadpool-postgres` pool of `tokio-postgres` connections. Queue operations are synchronous
//! code on the blocking pool (the same code as SQLite's, see `sql`), so each statement here is
//! awaited with `Handle::block_on`; the connections themselves are driven by the runtime.
//!
//! The URL is a secret (it carries the password): it comes only from the environment and never
//! appears in an error or a log line; errors name "the PostgreSQL queue" instead.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::BytesMut;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::QueueError;
use super::postgres_tls::{QueueConnection, parse_queue_url};
use super::sql::{Dialect, Row, Sql, Value};

/// How errors of this backend name the database (never the URL).
pub const LABEL: &str = "the PostgreSQL queue";

pub fn error(message: impl std::fmt::Display) -> QueueError {
    QueueError::Database {
        path: LABEL.into(),
        message: message.to_string(),
    }
}

/// The server's own message (code and text) rather than tokio-postgres's generic "db error".
pub fn postgres_error(error: tokio_postgres::Error) -> QueueError {
    match error.as_db_error() {
        Some(db) => self::error(format!("{} ({})", db.message(), db.code().code())),
        None => match error.source() {
            Some(source) => self::error(format!("{error}: {source}")),
            None => self::error(error),
        },
    }
}

/// Parses the URL (with libpq's `sslmode` and `sslrootcert`, see `postgres_tls`) without
/// echoing it back in errors.
pub fn parse_url(url: &str) -> Result<QueueConnection, QueueError> {
    parse_queue_url(url).map_err(error)
}

/// A pool of `size` connections, over TLS as the URL's `sslmode` says.
pub fn pool(connection: &QueueConnection, size: usize) -> Result<Pool, QueueError> {
    let tls = connection.tls_connector().map_err(error)?;
    let manager = Manager::from_config(
        connection.config.clone(),
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(Duration::from_secs(10)))
        .wait_timeout(Some(Duration::from_secs(30)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(error)
}

/// A pooled connection, awaited from the blocking thread the operation runs on.
pub async fn connection(pool: &Pool) -> Result<Object, QueueError> {
    pool.get().await.map_err(|e| match e {
        deadpool_postgres::PoolError::Backend(e) => postgres_error(e),
        other => error(other),
    })
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(n) => match *ty {
                Type::INT8 => n.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::FLOAT8 => (*n as f64).to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                _ => Err(format!("an integer cannot be a {ty} parameter").into()),
            },
            Value::Real(x) => match *ty {
                Type::FLOAT8 => x.to_sql(ty, out),
                Type::FLOAT4 => (*x as f32).to_sql(ty, out),
                _ => Err(format!("a number cannot be a {ty} parameter").into()),
            },
            Value::Text(text) => text.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql`, which knows the parameter's type.
        true
    }

    to_sql_checked!();
}

fn value_of(row: &tokio_postgres::Row, index: usize) -> Result<Value, tokio_postgres::Error> {
    let ty = row.columns()[index].type_().clone();
    Ok(match ty {
        // `SELECT pg_advisory_lock(...)` and the like.
        Type::VOID => None,
        Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map(Value::Integer),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(index)?
            .map(|n| Value::Integer(i64::from(n))),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(index)?
            .map(|n| Value::Integer(i64::from(n))),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(index)?
            .map(|b| Value::Integer(i64::from(b))),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(index)?.map(Value::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(index)?
            .map(|x| Value::Real(f64::from(x))),
        _ => row.try_get::<_, Option<String>>(index)?.map(Value::Text),
    }
    .unwrap_or(Value::Null))
}

/// One pooled connection, borrowed for one operation on a blocking thread.
pub struct PostgresSql<'a> {
    pub client: &'a Object,
    pub runtime: tokio::runtime::Handle,
}

impl PostgresSql<'_> {
    fn prepared(&self, sql: &str) -> Result<tokio_postgres::Statement, QueueError> {
        self.runtime
            .block_on(self.client.prepare_cached(sql))
            .map_err(postgres_error)
    }
}

fn references(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Sql for PostgresSql<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, QueueError> {
        let statement = self.prepared(sql)?;
        self.runtime
            .block_on(self.client.execute(&statement, &references(params)))
            .map_err(postgres_error)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, QueueError> {
        let statement = self.prepared(sql)?;
        let rows = self
            .runtime
            .block_on(self.client.query(&statement, &references(params)))
            .map_err(postgres_error)?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|index| value_of(row, index))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Row)
                    .map_err(postgres_error)
            })
            .collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), QueueError> {
        self.runtime
            .block_on(self.client.batch_execute(sql))
            .map_err(postgres_error)
    }
}
