//! The store's one error type, and the single place that sorts driver errors into it.

use std::error::Error as StdError;

use sqlx::error::DatabaseError;
use sqlx::postgres::PgDatabaseError;
use sqlx::sqlite::SqliteError;

/// A boxed cause, kept so that logs can show the driver's own message.
pub type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A row with the same key already exists (a unique constraint was violated).
    #[error("a row with the same key already exists")]
    Conflict {
        /// The driver's error.
        #[source]
        source: Cause,
    },
    /// The database cannot be reached right now (refused, closed, pool timed out, busy);
    /// retrying later can help.
    #[error("the database is unavailable")]
    Unavailable {
        /// The driver's error.
        #[source]
        source: Cause,
    },
    /// The database rejected an operation for another reason.
    #[error("database error")]
    Database {
        /// The driver's error.
        #[source]
        source: Cause,
    },
    /// A stored value cannot be read back as what it should be.
    #[error("stored data is corrupt: {what}")]
    Corrupt {
        /// Which value, and what is wrong with it.
        what: String,
        /// The decoding error, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// The database URL names no supported backend.
    #[error(
        "unsupported database url scheme `{scheme}`: expected `sqlite://PATH` or `postgres://…`"
    )]
    UnsupportedUrl {
        /// The scheme found (the rest of the URL may hold a password, so it is not kept).
        scheme: String,
    },
    /// Applying the schema migrations failed.
    #[error("migrating the database failed")]
    Migration {
        /// The migrator's error.
        #[source]
        source: Cause,
    },
    /// A value handed to the store cannot be stored as given.
    #[error("invalid value: {0}")]
    Invalid(String),
}

impl StoreError {
    /// Whether retrying the same operation later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }

    pub(crate) fn corrupt(what: impl Into<String>, source: impl Into<Cause>) -> Self {
        StoreError::Corrupt {
            what: what.into(),
            source: Some(source.into()),
        }
    }
}

/// PostgreSQL SQLSTATEs that mean the server is going away, starting or full: the class
/// `08` (connection exception) plus these.
const PG_UNAVAILABLE: &[&str] = &["57P01", "57P02", "57P03", "53300"];

/// SQLite primary result codes that mean another writer held the lock past busy_timeout.
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;

/// Sorts a driver error into [`StoreError`].
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable { source: e.into() },
        sqlx::Error::Database(d) => {
            if d.is_unique_violation() {
                return StoreError::Conflict { source: e.into() };
            }
            let unavailable = if let Some(pg) = d.try_downcast_ref::<PgDatabaseError>() {
                let code = pg.code();
                code.starts_with("08") || PG_UNAVAILABLE.contains(&code)
            } else if let Some(lite) = d.try_downcast_ref::<SqliteError>() {
                // Extended result codes carry the primary code in the low byte.
                let primary = lite
                    .code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .map(|c| c & 0xff);
                matches!(primary, Some(SQLITE_BUSY | SQLITE_LOCKED))
            } else {
                false
            };
            if unavailable {
                StoreError::Unavailable { source: e.into() }
            } else {
                StoreError::Database { source: e.into() }
            }
        }
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. } => StoreError::Corrupt {
            what: "a row does not have the expected shape".to_owned(),
            source: Some(e.into()),
        },
        _ => StoreError::Database { source: e.into() },
    }
}
