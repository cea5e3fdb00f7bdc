//! The embedded backend: one SQLite database (WAL, `synchronous=FULL`) behind a mutex, used by
//! one `serve` process. Opening it upgrades the schema and returns the jobs a crashed process
//! left running (one process owns the file, so whatever was running died with it).

use std::path::Path;

use rusqlite::Connection;
use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};

use super::QueueError;
use super::schema;
use super::sql::{Dialect, Row, Sql, Value, sqlite_placeholders};

/// Opens (or creates, or upgrades) the database file.
pub fn open(path: &Path) -> Result<Connection, QueueError> {
    let display = path.display().to_string();
    let database = |message: String| QueueError::Database {
        path: display.clone(),
        message,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| database(e.to_string()))?;
    }
    let mut connection = Connection::open(path).map_err(|e| database(e.to_string()))?;
    connection
        .execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             PRAGMA busy_timeout=5000;",
        )
        .map_err(|e| database(e.to_string()))?;
    schema::migrate(&mut connection)
        .map_err(|e| database(e.to_string()))?
        .map_err(database)?;
    // One process owns the queue: whatever it left running died with it.
    connection
        .execute(
            "UPDATE jobs SET state='queued', lease_until=NULL WHERE state='running'",
            [],
        )
        .map_err(|e| database(e.to_string()))?;
    Ok(connection)
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Integer(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Value::Real(x) => ToSqlOutput::Borrowed(ValueRef::Real(*x)),
            Value::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        })
    }
}

/// The queue's connection, borrowed for one operation.
pub struct SqliteSql<'a> {
    pub connection: &'a mut Connection,
    pub path: &'a str,
}

fn sqlite_error(path: &str) -> impl Fn(rusqlite::Error) -> QueueError + '_ {
    move |error| QueueError::Database {
        path: path.to_string(),
        message: error.to_string(),
    }
}

impl Sql for SqliteSql<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, QueueError> {
        let path = self.path;
        let sql = sqlite_placeholders(sql);
        let mut statement = self
            .connection
            .prepare_cached(&sql)
            .map_err(sqlite_error(path))?;
        let changed = statement
            .execute(rusqlite::params_from_iter(params))
            .map_err(sqlite_error(path))?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, QueueError> {
        let path = self.path;
        let sql = sqlite_placeholders(sql);
        let mut statement = self
            .connection
            .prepare_cached(&sql)
            .map_err(sqlite_error(path))?;
        let columns = statement.column_count();
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(sqlite_error(path))?;
        let mut collected = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite_error(path))? {
            let mut values = Vec::with_capacity(columns);
            for index in 0..columns {
                values.push(match row.get_ref(index).map_err(sqlite_error(path))? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Integer(n),
                    ValueRef::Real(x) => Value::Real(x),
                    ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                        Value::Text(String::from_utf8_lossy(bytes).into_owned())
                    }
                });
            }
            collected.push(Row(values));
        }
        Ok(collected)
    }

    fn batch(&mut self, sql: &str) -> Result<(), QueueError> {
        let path = self.path;
        self.connection
            .execute_batch(sql)
            .map_err(sqlite_error(path))
    }
}
