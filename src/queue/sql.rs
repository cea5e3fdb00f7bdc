//! The one SQL seam of the queue: a small synchronous interface both backends implement (SQLite
//! through rusqlite, PostgreSQL through tokio-postgres on a blocking thread), so every queue
//! operation is written once. Statements use `$1`-style placeholders (PostgreSQL's; the SQLite
//! side rewrites them to `?1`) and the column types both dialects agree on (64-bit integers,
//! doubles, text; booleans as 0/1 integers). Row locks that only PostgreSQL needs (several
//! processes share its queue; SQLite's has one writer) come from [`Dialect`].

use super::QueueError;

/// Which database a statement runs on, for the few clauses the dialects do not share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Appended to a `SELECT` whose rows the transaction will update: other replicas wait.
    pub fn for_update(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE",
        }
    }

    /// Appended to the `SELECT` that picks a job to claim: rows another replica is claiming are
    /// skipped rather than waited for.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// A top-level field of a JSON text column, as JSON text (NULL when absent): so a query can
    /// read one part of a large document without shipping the whole of it.
    pub fn json_field(self, column: &str, field: &str) -> String {
        match self {
            // `->` rather than `json_extract(.., '$.field')`: the SQLite side rewrites `$`
            // placeholders, and would rewrite the path too.
            Self::Sqlite => format!("({column} -> '{field}')"),
            Self::Postgres => format!("(({column})::json -> '{field}')::text"),
        }
    }

    /// Case-insensitive `LIKE` (SQLite's `LIKE` already ignores ASCII case).
    pub fn like_ignoring_case(self) -> &'static str {
        match self {
            Self::Sqlite => "LIKE",
            Self::Postgres => "ILIKE",
        }
    }

    fn begin(self) -> &'static str {
        match self {
            // Takes the write lock at once: no upgrade from a read lock can fail half-way.
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }
}

/// A parameter or a column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

macro_rules! value_from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(value: $t) -> Self {
                Value::Integer(i64::from(value))
            }
        }
    )*};
}
value_from_integer!(i32, u32, u8);

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Integer(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Integer(i64::from(value))
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::Real(value)
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Text(value)
    }
}

impl From<&String> for Value {
    fn from(value: &String) -> Self {
        Value::Text(value.clone())
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Text(value.to_string())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

/// `params![a, b]`: the statement's parameters, in placeholder order.
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::queue::sql::Value::from($value)),*][..]
    };
}
pub(crate) use params;

/// One result row, owned, with typed getters by column position.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Value>);

fn column_error(index: usize, wanted: &str, found: &Value) -> QueueError {
    QueueError::Database {
        path: "queue".into(),
        message: format!("column {index}: expected {wanted}, found {found:?}"),
    }
}

impl Row {
    fn value(&self, index: usize) -> &Value {
        self.0.get(index).unwrap_or(&Value::Null)
    }

    pub fn opt_i64(&self, index: usize) -> Result<Option<i64>, QueueError> {
        match self.value(index) {
            Value::Null => Ok(None),
            Value::Integer(n) => Ok(Some(*n)),
            other => Err(column_error(index, "an integer", other)),
        }
    }

    pub fn i64(&self, index: usize) -> Result<i64, QueueError> {
        self.opt_i64(index)?
            .ok_or_else(|| column_error(index, "an integer", &Value::Null))
    }

    pub fn u32(&self, index: usize) -> Result<u32, QueueError> {
        let n = self.i64(index)?;
        u32::try_from(n).map_err(|_| column_error(index, "a small integer", &Value::Integer(n)))
    }

    pub fn bool(&self, index: usize) -> Result<bool, QueueError> {
        Ok(self.i64(index)? != 0)
    }

    pub fn f64(&self, index: usize) -> Result<f64, QueueError> {
        match self.value(index) {
            Value::Real(x) => Ok(*x),
            Value::Integer(n) => Ok(*n as f64),
            other => Err(column_error(index, "a number", other)),
        }
    }

    pub fn opt_text(&self, index: usize) -> Result<Option<String>, QueueError> {
        match self.value(index) {
            Value::Null => Ok(None),
            Value::Text(text) => Ok(Some(text.clone())),
            other => Err(column_error(index, "text", other)),
        }
    }

    pub fn text(&self, index: usize) -> Result<String, QueueError> {
        self.opt_text(index)?
            .ok_or_else(|| column_error(index, "text", &Value::Null))
    }
}

/// A connection of either backend, held for the duration of one queue operation.
pub trait Sql {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; returns the rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, QueueError>;
    /// Runs one statement and returns its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, QueueError>;
    /// Runs several statements without parameters (schema, transaction control).
    fn batch(&mut self, sql: &str) -> Result<(), QueueError>;
}

impl dyn Sql + '_ {
    pub fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, QueueError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    pub fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Row, QueueError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| QueueError::Database {
                path: "queue".into(),
                message: "a statement expected to return a row returned none".into(),
            })
    }

    /// Runs `work` in a transaction: committed when it returns `Ok`, rolled back otherwise.
    pub fn transaction<T>(
        &mut self,
        work: impl FnOnce(&mut dyn Sql) -> Result<T, QueueError>,
    ) -> Result<T, QueueError> {
        self.batch(self.dialect().begin())?;
        match work(self) {
            Ok(value) => {
                self.batch("COMMIT")?;
                Ok(value)
            }
            Err(error) => {
                // The error that made us roll back is the one worth reporting.
                let _ = self.batch("ROLLBACK");
                Err(error)
            }
        }
    }
}

/// `$1` placeholders as SQLite's numbered `?1` (a `$` never appears elsewhere in the queue's
/// statements).
pub fn sqlite_placeholders(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains('$') {
        return std::borrow::Cow::Borrowed(sql);
    }
    std::borrow::Cow::Owned(sql.replace('$', "?"))
}
