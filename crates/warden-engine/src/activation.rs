//! Activating a bundle: storing it by hash, making it the one that decides, and noticing
//! what it takes away. Every running server watches the store's active bundle and switches
//! to a new one within a second; an activation also schedules, in its own transaction, the
//! offboarding of everyone the new catalog no longer lets act who still holds something.

use std::sync::Arc;

use warden_model::Timestamp;
use warden_policy::Bundle;
use warden_store::{Activated, BundleFile, NewAuditEvent, Store, Tx};

use crate::error::Fault;
use crate::job::{JobKey, schedule};
use crate::standing::{self, Barred};
use crate::{Engine, EngineError, note};

/// What [`activate`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activation {
    /// The bundle's hash.
    pub hash: String,
    /// Whether it became active now (`false`: it was active already and nothing changed).
    pub changed: bool,
    /// The hash of the bundle active before, if it changed and one was.
    pub previous: Option<String>,
}

/// Stores `bundle` and makes it the active one, in one transaction with its audit events:
/// `bundle.stored` (when its hash is new), `bundle.activated`, an `alert.owner_missing`
/// for each service or workload whose owner the new catalog no longer lets act (newly so,
/// or — on a first activation — holding something), and one `offboard` job for each
/// identity the new catalog bars that still holds a token, a pending request or a grant.
/// Activating the active bundle again changes nothing.
///
/// Two activations at once (servers starting together on PostgreSQL) collide on the
/// activation sequence; the loser reads again and, if the bundle it wanted is active by
/// then, reports it unchanged, or tries once more.
pub async fn activate(
    store: &Store,
    bundle: &Bundle,
    actor: &str,
    now: Timestamp,
) -> Result<Activation, EngineError> {
    let mut attempts = 0;
    loop {
        match activate_once(store, bundle, actor, now).await {
            Ok(done) => return Ok(done),
            Err(e) => {
                attempts += 1;
                let active = store.active_bundle().await?;
                if active.is_some_and(|a| a.hash == bundle.hash()) {
                    return Ok(Activation {
                        hash: bundle.hash().to_owned(),
                        changed: false,
                        previous: None,
                    });
                }
                if attempts >= 3 {
                    return Err(e);
                }
            }
        }
    }
}

async fn activate_once(
    store: &Store,
    bundle: &Bundle,
    actor: &str,
    now: Timestamp,
) -> Result<Activation, EngineError> {
    let files: Vec<BundleFile> = bundle
        .files()
        .iter()
        .map(|f| BundleFile {
            name: f.name.clone(),
            text: f.text.clone(),
        })
        .collect();
    let hash = bundle.hash().to_owned();
    let mut tx = store.begin().await?;
    if tx.put_bundle(&hash, &files, now).await? {
        about_bundle(
            &mut tx,
            now,
            actor,
            "bundle.stored",
            &hash,
            serde_json::json!({ "files": files.len() }),
        )
        .await?;
    }
    let before = match tx.activate_bundle(&hash, now, actor).await? {
        Activated::Already => {
            tx.commit().await?;
            return Ok(Activation {
                hash,
                changed: false,
                previous: None,
            });
        }
        Activated::Now { before } => before,
    };
    let previous = before.map(|b| b.hash);
    about_bundle(
        &mut tx,
        now,
        actor,
        "bundle.activated",
        &hash,
        serde_json::json!({ "previous": previous }),
    )
    .await?;
    let previous_bundle = match &previous {
        Some(p) => load_stored(store, p).await.ok(),
        None => None,
    };
    let holders = tx.holders().await?;
    for nhi in standing::orphaned_nhis(&bundle.catalog) {
        let newly = match &previous_bundle {
            Some(b) => standing::standing(&b.catalog, nhi) != Err(Barred::OwnerMissing),
            None => holders.contains(nhi),
        };
        if !newly {
            continue;
        }
        let owner = bundle
            .catalog
            .identities
            .get(nhi)
            .and_then(|i| i.owner.clone());
        about_bundle(
            &mut tx,
            now,
            actor,
            "alert.owner_missing",
            &hash,
            serde_json::json!({ "identity": nhi, "owner": owner }),
        )
        .await?;
    }
    for id in holders
        .iter()
        .filter(|id| standing::standing(&bundle.catalog, id).is_err())
    {
        schedule(&mut tx, &JobKey::Offboard(id.clone()), now, now).await?;
    }
    tx.commit().await?;
    Ok(Activation {
        hash,
        changed: true,
        previous,
    })
}

/// Audits `action` by `actor` about bundle `hash`, with `data`, inside `tx`.
async fn about_bundle(
    tx: &mut Tx,
    now: Timestamp,
    actor: &str,
    action: &str,
    hash: &str,
    data: serde_json::Value,
) -> Result<(), EngineError> {
    let event = NewAuditEvent {
        bundle_hash: Some(hash.to_owned()),
        ..note(now, actor.to_owned(), action, None, None, data)
    };
    crate::audit(tx, event).await
}

/// Loads stored bundle `hash` from its files.
pub(crate) async fn load_stored(store: &Store, hash: &str) -> Result<Bundle, EngineError> {
    let files = store
        .bundle(hash)
        .await?
        .ok_or_else(|| EngineError::NotFound(format!("bundle `{hash}` is not stored")))?;
    let files = files
        .into_iter()
        .map(|f| warden_policy::SourceFile {
            name: f.name,
            text: f.text,
        })
        .collect();
    let bundle = Bundle::from_files(files).map_err(|source| Fault::Bundle {
        hash: hash.to_owned(),
        source,
    })?;
    if bundle.hash() != hash {
        return Err(EngineError::broken(format!(
            "stored bundle `{hash}` hashes to `{}`",
            bundle.hash()
        )));
    }
    Ok(bundle)
}

impl Engine {
    /// Activates `bundle` (see [`activate`]) and switches this engine to it at once.
    pub async fn activate(&self, bundle: Bundle, actor: &str) -> Result<Activation, EngineError> {
        let now = self.now();
        let done = activate(self.store(), &bundle, actor, now).await?;
        self.refresh_bundle().await?;
        Ok(done)
    }

    /// Switches to the store's active bundle if it is not the one in use; returns whether
    /// it switched.
    pub async fn refresh_bundle(&self) -> Result<bool, EngineError> {
        let Some(active) = self.store().active_bundle().await? else {
            return Ok(false);
        };
        let (bundle, at) = self.active_bundle();
        if bundle.hash() == active.hash && at == active.activated_at {
            return Ok(false);
        }
        let next: Arc<Bundle> = self.bundle_by_hash(&active.hash).await?;
        // A bundle whose roles this server's connectors would not accept is never used
        // here: it keeps deciding with the one it has, and says why.
        if let Err(errors) = self.connectors().check_bundle(&next) {
            return Err(EngineError::Invalid(format!(
                "the active bundle `{}` does not fit this server's connectors: {}",
                active.hash,
                errors.join("; ")
            )));
        }
        let switched = next.hash() != bundle.hash();
        self.set_current(next, active.activated_at);
        if switched {
            tracing::info!(bundle = %active.hash, "switched to the active bundle");
        }
        Ok(switched)
    }

    /// Follows the store's active bundle every `every` until `shutdown` says stop.
    pub async fn watch_bundle(
        &self,
        every: std::time::Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            if let Err(e) = self.refresh_bundle().await {
                tracing::warn!(error = %e, "cannot read the active bundle");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
