//! `itsm_comment`: post a comment Warden decided on while applying a ticket's re-read — an
//! approval its rules refused, or a ticket that does not map to a request. The text was
//! noted on the mark in that transaction; this job only posts it (act-only).

use super::Effect;
use super::itsm_sync::itsm_failure;
use crate::{Engine, EngineError};

impl Engine {
    /// Posts the comment noted under `mark` for ITSM `itsm`.
    pub(crate) async fn act_itsm_comment(
        &self,
        itsm: &str,
        mark: &str,
    ) -> Result<Effect, EngineError> {
        let Some(inst) = self.itsms().get(itsm).cloned() else {
            return Ok(Effect::Nothing);
        };
        let Some((ticket, text)) = self.store().itsm_note(itsm, mark).await? else {
            return Ok(Effect::Nothing);
        };
        if let Err(e) = inst.adapter.comment(&ticket, &text).await {
            return Ok(itsm_failure(e));
        }
        Ok(Effect::Nothing)
    }
}
