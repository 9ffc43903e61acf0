//! The two backends behind one face: a connection is either SQLite's or PostgreSQL's, and
//! the query modules write each statement once, expanded for both by [`on_conn`].

use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use warden_model::Timestamp;

use crate::error::{StoreError, db_err};

/// A borrowed connection (pooled or inside a transaction) of either backend.
pub(crate) enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

impl Conn<'_> {
    /// Whether this is a PostgreSQL connection, for the few statements that differ.
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Conn::Postgres(_))
    }
}

/// Runs `$body` with `$c` bound to the backend's `&mut &mut XConnection`; the body is
/// type-checked once per backend, so the same SQL text and binds serve both. Write the
/// executor as `&mut **$c`.
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::conn::Conn::Sqlite($c) => $body,
            $crate::conn::Conn::Postgres($c) => $body,
        }
    };
}
pub(crate) use on_conn;

/// Typed column access that turns decoding failures into [`StoreError::Corrupt`].
pub(crate) trait RowExt {
    /// A NOT NULL TEXT column.
    fn text(&self, col: &str) -> Result<String, StoreError>;
    /// A nullable TEXT column.
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError>;
    /// A NOT NULL BIGINT column.
    fn int(&self, col: &str) -> Result<i64, StoreError>;
    /// A nullable BIGINT column.
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError>;

    /// A NOT NULL time column (unix milliseconds).
    fn time(&self, col: &str) -> Result<Timestamp, StoreError> {
        millis_to_time(col, self.int(col)?)
    }

    /// A nullable time column (unix milliseconds).
    fn opt_time(&self, col: &str) -> Result<Option<Timestamp>, StoreError> {
        self.opt_int(col)?
            .map(|m| millis_to_time(col, m))
            .transpose()
    }

    /// A NOT NULL TEXT column parsed with `parse`.
    fn parsed<T, E>(
        &self,
        col: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, StoreError>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let s = self.text(col)?;
        parse(&s).map_err(|e| StoreError::corrupt(format!("column `{col}`"), e))
    }

    /// A nullable TEXT column parsed with `parse`.
    fn opt_parsed<T, E>(
        &self,
        col: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, StoreError>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        match self.opt_text(col)? {
            None => Ok(None),
            Some(s) => parse(&s)
                .map(Some)
                .map_err(|e| StoreError::corrupt(format!("column `{col}`"), e)),
        }
    }

    /// A TEXT column holding JSON.
    fn json(&self, col: &str) -> Result<serde_json::Value, StoreError> {
        self.parsed(col, |s| serde_json::from_str(s))
    }
}

fn millis_to_time(col: &str, millis: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_unix_millis(millis).ok_or_else(|| StoreError::Corrupt {
        what: format!("column `{col}` holds an impossible time {millis}"),
        source: None,
    })
}

/// Implements [`RowExt`] for a driver's row type `$row`, whose generic column getter is
/// `$get` and whose errors `$err` sorts into [`StoreError`].
macro_rules! row_ext {
    ($row:ty, $get:ident, $err:path) => {
        impl $crate::conn::RowExt for $row {
            fn text(&self, col: &str) -> Result<String, StoreError> {
                self.$get(col).map_err($err)
            }
            fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
                self.$get(col).map_err($err)
            }
            fn int(&self, col: &str) -> Result<i64, StoreError> {
                self.$get(col).map_err($err)
            }
            fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError> {
                self.$get(col).map_err($err)
            }
        }
    };
}
pub(crate) use row_ext;

row_ext!(SqliteRow, try_get, db_err);
row_ext!(PgRow, try_get, db_err);

/// A time as the store keeps it.
pub(crate) fn ms(t: Timestamp) -> i64 {
    t.unix_millis()
}

/// An optional time as the store keeps it.
pub(crate) fn opt_ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::unix_millis)
}

/// A count that the database returns as BIGINT; negative never happens, but a corrupt
/// value must not wrap.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
