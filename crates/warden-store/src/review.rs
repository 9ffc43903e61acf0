//! Reviews and their items: break-glass reviews (one per emergency grant) and the runs of
//! access-review campaigns. The store keeps what was decided and by whom; who may decide
//! is the engine's to judge, and the reviewers an item names are kept as the engine wrote
//! them.

use warden_model::{IdentityId, RoleId, SystemId, Timestamp};

use crate::conn::{Conn, RowExt, count, ms, on_conn, opt_ms};
use crate::error::{StoreError, db_err};
use crate::id::{GrantId, ItemId, ReviewId};
use crate::store::{Store, Tx};

/// What a review is of.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReviewKind {
    /// One emergency grant.
    BreakGlass,
    /// One run of a `[[review]]` campaign.
    Campaign,
}

impl ReviewKind {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewKind::BreakGlass => "break_glass",
            ReviewKind::Campaign => "campaign",
        }
    }

    fn parse(s: &str) -> Result<Self, UnknownReviewKind> {
        match s {
            "break_glass" => Ok(ReviewKind::BreakGlass),
            "campaign" => Ok(ReviewKind::Campaign),
            other => Err(UnknownReviewKind(other.chars().take(40).collect())),
        }
    }
}

/// A stored review kind that is neither `break_glass` nor `campaign`.
#[derive(Debug, thiserror::Error)]
#[error("unknown review kind `{0}`")]
pub struct UnknownReviewKind(String);

/// A stored review.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReviewRecord {
    /// Its id.
    pub id: ReviewId,
    /// What it is of.
    pub kind: ReviewKind,
    /// The campaign it is a run of.
    pub campaign: Option<String>,
    /// Whether it is still open.
    pub open: bool,
    /// A break-glass review's subject: whose emergency grant it is.
    pub subject: Option<IdentityId>,
    /// A break-glass review's grant.
    pub grant_id: Option<GrantId>,
    /// When it opened.
    pub opened_at: Timestamp,
    /// When it is due.
    pub due_at: Timestamp,
    /// When it closed.
    pub closed_at: Option<Timestamp>,
    /// How it closed (`justified`, `unjustified`, `completed`).
    pub outcome: Option<String>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// What they said.
    pub comment: Option<String>,
    /// A campaign's rule for items nobody decided by the due date (`revoke`, `keep`).
    pub on_no_answer: Option<String>,
}

/// One item of a review.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ItemRecord {
    /// The review it belongs to.
    pub review_id: ReviewId,
    /// Its id.
    pub id: ItemId,
    /// The grant it is about; `None` for an identity item.
    pub grant_id: Option<GrantId>,
    /// The grant's subject, or the identity asked about.
    pub identity: IdentityId,
    /// The grant's system (an identity item: the system of its latest grant in scope).
    pub system: Option<SystemId>,
    /// The grant's role (an identity item: the role of its latest grant in scope).
    pub role: Option<RoleId>,
    /// Who may decide, as the engine wrote it (JSON).
    pub reviewers: String,
    /// `keep` or `revoke`, once decided.
    pub decision: Option<String>,
    /// Who decided (an identity, or `no_answer`).
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<Timestamp>,
    /// What they said.
    pub comment: Option<String>,
}

macro_rules! review_columns {
    () => {
        "id, kind, campaign, state, subject, grant_id, opened_at, due_at, closed_at, outcome, \
         closed_by, comment, on_no_answer"
    };
}

macro_rules! item_columns {
    () => {
        "review_id, id, grant_id, identity, system, role, reviewers, decision, decided_by, \
         decided_at, comment"
    };
}

impl Tx {
    /// Stores a new review.
    pub async fn insert_review(&mut self, r: &ReviewRecord) -> Result<(), StoreError> {
        on_conn!(&mut self.conn(), c => sqlx::query(concat!(
            "INSERT INTO reviews (", review_columns!(), ") \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(r.id.to_string())
        .bind(r.kind.as_str())
        .bind(r.campaign.as_deref())
        .bind(if r.open { "open" } else { "closed" })
        .bind(r.subject.as_ref().map(IdentityId::as_str))
        .bind(r.grant_id.map(|g| g.to_string()))
        .bind(ms(r.opened_at))
        .bind(ms(r.due_at))
        .bind(opt_ms(r.closed_at))
        .bind(r.outcome.as_deref())
        .bind(r.closed_by.as_deref())
        .bind(r.comment.as_deref())
        .bind(r.on_no_answer.as_deref())
        .execute(&mut **c)
        .await
        .map(|_| ()))
        .map_err(db_err)
    }

    /// Stores a new item.
    pub async fn insert_review_item(&mut self, i: &ItemRecord) -> Result<(), StoreError> {
        on_conn!(&mut self.conn(), c => sqlx::query(concat!(
            "INSERT INTO review_items (", item_columns!(), ") \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(i.review_id.to_string())
        .bind(i.id.to_string())
        .bind(i.grant_id.map(|g| g.to_string()))
        .bind(i.identity.as_str())
        .bind(i.system.as_ref().map(SystemId::as_str))
        .bind(i.role.as_ref().map(RoleId::as_str))
        .bind(&i.reviewers)
        .bind(i.decision.as_deref())
        .bind(i.decided_by.as_deref())
        .bind(opt_ms(i.decided_at))
        .bind(i.comment.as_deref())
        .execute(&mut **c)
        .await
        .map(|_| ()))
        .map_err(db_err)
    }

    /// Review `id`, read inside the transaction.
    pub async fn review(&mut self, id: ReviewId) -> Result<Option<ReviewRecord>, StoreError> {
        review_of(&mut self.conn(), id).await
    }

    /// The items of review `id`, read inside the transaction.
    pub async fn review_items(&mut self, id: ReviewId) -> Result<Vec<ItemRecord>, StoreError> {
        items_of(&mut self.conn(), id).await
    }

    /// Records `decision` on item `item` of review `review`; `false`, changing nothing,
    /// when the item is unknown or already decided (the first decision stands).
    pub async fn decide_review_item(
        &mut self,
        review: ReviewId,
        item: ItemId,
        decision: &str,
        by: &str,
        at: Timestamp,
        comment: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = on_conn!(&mut self.conn(), c => sqlx::query(
            "UPDATE review_items SET decision = $1, decided_by = $2, decided_at = $3, comment = $4 \
             WHERE review_id = $5 AND id = $6 AND decision IS NULL",
        )
        .bind(decision)
        .bind(by)
        .bind(ms(at))
        .bind(comment)
        .bind(review.to_string())
        .bind(item.to_string())
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(n == 1)
    }

    /// Closes open review `id`; `false`, changing nothing, when it is unknown or closed.
    pub async fn close_review(
        &mut self,
        id: ReviewId,
        outcome: &str,
        by: &str,
        at: Timestamp,
        comment: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = on_conn!(&mut self.conn(), c => sqlx::query(
            "UPDATE reviews SET state = 'closed', outcome = $1, closed_by = $2, closed_at = $3, \
             comment = $4 WHERE id = $5 AND state = 'open'",
        )
        .bind(outcome)
        .bind(by)
        .bind(ms(at))
        .bind(comment)
        .bind(id.to_string())
        .execute(&mut **c)
        .await
        .map(|d| d.rows_affected()))
        .map_err(db_err)?;
        Ok(n == 1)
    }
}

impl Store {
    /// Review `id`.
    pub async fn review(&self, id: ReviewId) -> Result<Option<ReviewRecord>, StoreError> {
        review_of(&mut self.acquire().await?.conn(), id).await
    }

    /// The items of review `id`, in id order.
    pub async fn review_items(&self, id: ReviewId) -> Result<Vec<ItemRecord>, StoreError> {
        items_of(&mut self.acquire().await?.conn(), id).await
    }

    /// Reviews, newest first: only open ones when `open_only`, at most `limit`.
    pub async fn reviews(
        &self,
        open_only: bool,
        limit: u32,
    ) -> Result<Vec<ReviewRecord>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let rows = sqlx::query(concat!(
                "SELECT ", review_columns!(), " FROM reviews \
                 WHERE ($1 = 0 OR state = 'open') ORDER BY opened_at DESC, id DESC LIMIT $2"
            ))
            .bind(i64::from(open_only))
            .bind(i64::from(limit))
            .fetch_all(&mut **c)
            .await
            .map_err(db_err)?;
            rows.iter().map(decode_review).collect()
        })
    }

    /// The open break-glass reviews of emergency grants to any of `subjects`, as
    /// `(review, subject)` sorted.
    pub async fn open_break_glass_reviews(
        &self,
        subjects: &[&IdentityId],
    ) -> Result<Vec<(ReviewId, IdentityId)>, StoreError> {
        let mut out = Vec::new();
        for s in subjects {
            let rows = on_conn!(&mut self.acquire().await?.conn(), c => sqlx::query(
                "SELECT id, subject FROM reviews \
                 WHERE state = 'open' AND subject = $1 AND kind = 'break_glass'",
            )
            .bind(s.as_str())
            .fetch_all(&mut **c)
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| Ok((r.parsed("id", str::parse)?, r.parsed("subject", IdentityId::parse)?)))
            .collect::<Result<Vec<_>, StoreError>>())?;
            out.extend(rows);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// When campaign `campaign` last started.
    pub async fn last_campaign_start(
        &self,
        campaign: &str,
    ) -> Result<Option<Timestamp>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let row = sqlx::query(
                "SELECT MAX(opened_at) AS at FROM reviews WHERE campaign = $1",
            )
            .bind(campaign)
            .fetch_one(&mut **c)
            .await
            .map_err(db_err)?;
            row.opt_time("at")
        })
    }

    /// Items of reviews that fell due in `[since, until)`: `(decided by a reviewer, all)`.
    /// An item that silence decided (`decided_by = 'no_answer'`) is not a reviewer's.
    pub async fn review_completion(
        &self,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<(u64, u64), StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n, \
                        COALESCE(SUM(CASE WHEN i.decision IS NOT NULL \
                             AND i.decided_by <> 'no_answer' AND i.decided_at <= r.due_at \
                             THEN 1 ELSE 0 END), 0) AS decided \
                 FROM reviews r JOIN review_items i ON i.review_id = r.id \
                 WHERE r.due_at >= $1 AND r.due_at < $2",
            )
            .bind(ms(since))
            .bind(ms(until))
            .fetch_one(&mut **c)
            .await
            .map_err(db_err)?;
            Ok((count(row.int("decided")?), count(row.int("n")?)))
        })
    }

    /// Up to `limit` items of reviews that fell due in `[since, until)` that no reviewer
    /// decided by the due date, as `(grant, identity)`: the completion figure's evidence.
    pub async fn review_items_missed(
        &self,
        since: Timestamp,
        until: Timestamp,
        limit: u32,
    ) -> Result<Vec<(Option<GrantId>, IdentityId)>, StoreError> {
        on_conn!(&mut self.acquire().await?.conn(), c => {
            let rows = sqlx::query(
                "SELECT i.grant_id, i.identity FROM reviews r \
                 JOIN review_items i ON i.review_id = r.id \
                 WHERE r.due_at >= $1 AND r.due_at < $2 AND NOT (i.decision IS NOT NULL \
                       AND i.decided_by <> 'no_answer' AND i.decided_at <= r.due_at) \
                 ORDER BY r.due_at, i.id LIMIT $3",
            )
            .bind(ms(since))
            .bind(ms(until))
            .bind(i64::from(limit))
            .fetch_all(&mut **c)
            .await
            .map_err(db_err)?;
            rows.iter()
                .map(|r| Ok((r.opt_parsed("grant_id", str::parse)?, r.parsed("identity", IdentityId::parse)?)))
                .collect()
        })
    }
}

async fn review_of(conn: &mut Conn<'_>, id: ReviewId) -> Result<Option<ReviewRecord>, StoreError> {
    on_conn!(conn, c => {
        let row = sqlx::query(concat!("SELECT ", review_columns!(), " FROM reviews WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&mut **c)
            .await
            .map_err(db_err)?;
        row.as_ref().map(decode_review).transpose()
    })
}

async fn items_of(conn: &mut Conn<'_>, id: ReviewId) -> Result<Vec<ItemRecord>, StoreError> {
    on_conn!(conn, c => {
        let rows = sqlx::query(concat!(
            "SELECT ", item_columns!(), " FROM review_items WHERE review_id = $1 ORDER BY id"
        ))
        .bind(id.to_string())
        .fetch_all(&mut **c)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode_item).collect()
    })
}

fn decode_review(row: &impl RowExt) -> Result<ReviewRecord, StoreError> {
    Ok(ReviewRecord {
        id: row.parsed("id", str::parse)?,
        kind: row.parsed("kind", ReviewKind::parse)?,
        campaign: row.opt_text("campaign")?,
        open: row.text("state")? == "open",
        subject: row.opt_parsed("subject", IdentityId::parse)?,
        grant_id: row.opt_parsed("grant_id", str::parse)?,
        opened_at: row.time("opened_at")?,
        due_at: row.time("due_at")?,
        closed_at: row.opt_time("closed_at")?,
        outcome: row.opt_text("outcome")?,
        closed_by: row.opt_text("closed_by")?,
        comment: row.opt_text("comment")?,
        on_no_answer: row.opt_text("on_no_answer")?,
    })
}

fn decode_item(row: &impl RowExt) -> Result<ItemRecord, StoreError> {
    Ok(ItemRecord {
        review_id: row.parsed("review_id", str::parse)?,
        id: row.parsed("id", str::parse)?,
        grant_id: row.opt_parsed("grant_id", str::parse)?,
        identity: row.parsed("identity", IdentityId::parse)?,
        system: row.opt_parsed("system", SystemId::parse)?,
        role: row.opt_parsed("role", RoleId::parse)?,
        reviewers: row.text("reviewers")?,
        decision: row.opt_text("decision")?,
        decided_by: row.opt_text("decided_by")?,
        decided_at: row.opt_time("decided_at")?,
        comment: row.opt_text("comment")?,
    })
}
