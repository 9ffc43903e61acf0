//! Outbound alerts' bookkeeping: per alert, the seq of the last audit event its scan has
//! scheduled for delivery.

use crate::conn::{Conn, count, on_conn};
use crate::error::{StoreError, db_err};
use crate::store::{Store, Tx};

impl Tx {
    /// Starts `alert`'s cursor at `seq` unless it has one: a new alert begins at the chain's
    /// head instead of delivering its whole history. Returns whether it started it.
    pub async fn start_alert_cursor(&mut self, alert: &str, seq: u64) -> Result<bool, StoreError> {
        let n = on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO alert_cursors (alert, seq) VALUES ($1, $2) ON CONFLICT (alert) DO NOTHING",
        )
        .bind(alert)
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Moves `alert`'s cursor to `seq` (never backwards).
    pub async fn set_alert_cursor(&mut self, alert: &str, seq: u64) -> Result<(), StoreError> {
        on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO alert_cursors (alert, seq) VALUES ($1, $2) \
             ON CONFLICT (alert) DO UPDATE SET seq = \
                CASE WHEN alert_cursors.seq > excluded.seq THEN alert_cursors.seq ELSE excluded.seq END",
        )
        .bind(alert)
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .execute(&mut **c)
        .await
        .map(|_| ()))
        .map_err(db_err)
    }

    /// `alert`'s cursor as this transaction sees it.
    pub async fn alert_cursor(&mut self, alert: &str) -> Result<Option<u64>, StoreError> {
        cursor(&mut self.conn(), alert).await
    }
}

impl Store {
    /// `alert`'s cursor, if it was ever started.
    pub async fn alert_cursor(&self, alert: &str) -> Result<Option<u64>, StoreError> {
        cursor(&mut self.acquire().await?.conn(), alert).await
    }
}

async fn cursor(conn: &mut Conn<'_>, alert: &str) -> Result<Option<u64>, StoreError> {
    on_conn!(conn, c => {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM alert_cursors WHERE alert = $1")
            .bind(alert)
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?;
        Ok(seq.map(count))
    })
}
