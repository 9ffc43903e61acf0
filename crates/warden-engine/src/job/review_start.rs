//! `review_start`: a campaign's next run is due. Act: plan the run from store reads and the
//! active catalog (nothing, if the campaign is gone from the bundle or ran within its
//! period — someone started it by hand). Apply: write the run, or schedule the next one
//! for when its period is up.

use warden_store::Tx;

use super::{Effect, JobKey, schedule};
use crate::{Engine, EngineError};

impl Engine {
    /// Plans the run of campaign `campaign`, if one is due.
    pub(crate) async fn act_review_start(&self, campaign: &str) -> Result<Effect, EngineError> {
        let bundle = self.bundle();
        let Some(c) = bundle.catalog.reviews.iter().find(|c| c.id == campaign) else {
            return Ok(Effect::Nothing);
        };
        if let Some(last) = self.store().last_campaign_start(campaign).await?
            && last.plus(c.every) > self.now()
        {
            return Ok(Effect::Nothing);
        }
        Ok(Effect::Campaign(Box::new(
            self.plan_campaign(campaign).await?,
        )))
    }

    /// Opens the planned run, or schedules the campaign for when its period is up.
    pub(crate) async fn apply_review_start(
        &self,
        tx: &mut Tx,
        campaign: &str,
        worker: &str,
        effect: &Effect,
    ) -> Result<(), EngineError> {
        if let Effect::Campaign(plan) = effect {
            self.open_campaign(tx, plan, &format!("worker:{worker}"))
                .await?;
            return Ok(());
        }
        let bundle = self.bundle();
        let Some(c) = bundle.catalog.reviews.iter().find(|c| c.id == campaign) else {
            return Ok(());
        };
        let now = self.now();
        let last = self.store().last_campaign_start(campaign).await?;
        let key = JobKey::ReviewStart {
            campaign: campaign.to_owned(),
        };
        schedule(tx, &key, last.unwrap_or(now).plus(c.every), now).await
    }
}
