//! ITSM bookkeeping: what each adapter already handled (webhook deliveries for a day,
//! approval ids for good, with the comment to post about one if any) and where its poller
//! stopped.

use warden_model::Timestamp;

use crate::conn::{Conn, RowExt, ms, on_conn};
use crate::error::{StoreError, db_err};
use crate::store::{Store, Tx};

impl Tx {
    /// Records `mark` (a delivery id, an approval id) as handled for `adapter`. Returns
    /// `false` when it already was, so the caller ignores a repeat.
    pub async fn mark_itsm(
        &mut self,
        adapter: &str,
        mark: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.insert_mark(adapter, mark, None, now).await
    }

    /// Records `mark` as handled for `adapter`, with `note`, a comment to post on `ticket`.
    /// Returns `false`, recording nothing, when the mark already was.
    pub async fn note_itsm(
        &mut self,
        adapter: &str,
        mark: &str,
        ticket: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.insert_mark(adapter, mark, Some((ticket, note)), now)
            .await
    }

    async fn insert_mark(
        &mut self,
        adapter: &str,
        mark: &str,
        note: Option<(&str, &str)>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let n = on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO itsm_marks (adapter, mark, at, ticket, note) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (adapter, mark) DO NOTHING",
        )
        .bind(adapter)
        .bind(mark)
        .bind(ms(now))
        .bind(note.map(|(ticket, _)| ticket))
        .bind(note.map(|(_, text)| text))
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Whether `mark` was already handled for `adapter`, as this transaction sees it.
    pub async fn itsm_marked(&mut self, adapter: &str, mark: &str) -> Result<bool, StoreError> {
        marked(&mut self.conn(), adapter, mark).await
    }

    /// Records webhook delivery `delivery` for `adapter` at `now`, first deleting every
    /// delivery recorded before `forget_before`. Returns `false` when the same delivery was
    /// recorded since then: a repeat or a replay, which the caller ignores.
    pub async fn mark_delivery(
        &mut self,
        adapter: &str,
        delivery: &str,
        now: Timestamp,
        forget_before: Timestamp,
    ) -> Result<bool, StoreError> {
        on_conn!(&mut self.conn(), c => sqlx::query("DELETE FROM itsm_deliveries WHERE at < $1")
            .bind(ms(forget_before))
            .execute(&mut **c)
            .await
            .map(|_| ()))
        .map_err(db_err)?;
        let n = on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO itsm_deliveries (adapter, delivery, at) VALUES ($1, $2, $3) \
             ON CONFLICT (adapter, delivery) DO NOTHING",
        )
        .bind(adapter)
        .bind(delivery)
        .bind(ms(now))
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Moves `adapter`'s poll cursor to `cursor` (never backwards).
    pub async fn set_itsm_cursor(
        &mut self,
        adapter: &str,
        cursor: Timestamp,
    ) -> Result<(), StoreError> {
        on_conn!(&mut self.conn(), c => sqlx::query(
            "INSERT INTO itsm_cursors (adapter, cursor) VALUES ($1, $2) \
             ON CONFLICT (adapter) DO UPDATE SET cursor = \
                CASE WHEN itsm_cursors.cursor > excluded.cursor THEN itsm_cursors.cursor ELSE excluded.cursor END",
        )
        .bind(adapter)
        .bind(ms(cursor))
        .execute(&mut **c)
        .await
        .map(|_| ()))
        .map_err(db_err)
    }
}

impl Store {
    /// Whether `mark` was already handled for `adapter`.
    pub async fn itsm_marked(&self, adapter: &str, mark: &str) -> Result<bool, StoreError> {
        marked(&mut self.acquire().await?.conn(), adapter, mark).await
    }

    /// The comment noted on `mark` for `adapter`: the ticket and the text.
    pub async fn itsm_note(
        &self,
        adapter: &str,
        mark: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let row = sqlx::query(
                "SELECT ticket, note FROM itsm_marks WHERE adapter = $1 AND mark = $2",
            )
            .bind(adapter)
            .bind(mark)
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?;
            let Some(row) = row else { return Ok(None) };
            Ok(row.opt_text("ticket")?.zip(row.opt_text("note")?))
        })
    }

    /// How many webhook deliveries are remembered for `adapter`.
    pub async fn delivery_count(&self, adapter: &str) -> Result<u64, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM itsm_deliveries WHERE adapter = $1")
                .bind(adapter)
                .fetch_one(&mut **c)
                .await
                .map_err(db_err)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Where `adapter`'s poller stopped, if it ever ran.
    pub async fn itsm_cursor(&self, adapter: &str) -> Result<Option<Timestamp>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let row = sqlx::query("SELECT cursor FROM itsm_cursors WHERE adapter = $1")
                .bind(adapter)
                .fetch_optional(&mut **c)
                .await
                .map_err(db_err)?;
            row.as_ref().map(|r| r.time("cursor")).transpose()
        })
    }
}

async fn marked(conn: &mut Conn<'_>, adapter: &str, mark: &str) -> Result<bool, StoreError> {
    on_conn!(conn, c => {
        let row = sqlx::query("SELECT at FROM itsm_marks WHERE adapter = $1 AND mark = $2")
            .bind(adapter)
            .bind(mark)
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?;
        Ok(row.is_some())
    })
}
