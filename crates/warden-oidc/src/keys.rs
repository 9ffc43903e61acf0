//! Each issuer's key cache: fetched on first use, fetched again when a token names a
//! key the cache lacks (issuers rotate keys without notice) or when the keys have grown
//! old, but never more often than the refresh interval, so that tokens with made-up key
//! ids cannot turn Warden into a fetch amplifier against the issuer.
//!
//! Time is the caller's `now`, never the system clock: Warden's tests drive a manual
//! clock, and the throttle must follow it.

use std::sync::Arc;

use tokio::sync::Mutex;
use warden_model::{Duration, Timestamp};

use crate::Refusal;
use crate::alg::Alg;
use crate::config::JwksSource;
use crate::jwks::{self, Key};

/// When a cache may and must fetch again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RefreshPolicy {
    /// The shortest time between two fetches of one issuer's keys.
    pub(crate) interval: Duration,
    /// How long fetched keys are used before they are fetched again, so that a key the
    /// issuer withdrew stops being accepted.
    pub(crate) max_age: Duration,
}

/// One issuer's keys and when they were fetched.
#[derive(Debug)]
pub(crate) struct KeyCache {
    source: JwksSource,
    // A tokio mutex, held across the fetch: concurrent verifies of one issuer wait for
    // the one fetch in flight instead of each starting their own.
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    keys: Vec<Arc<Key>>,
    /// When the last successful fetch happened.
    fetched_at: Option<Timestamp>,
    /// When the last fetch, successful or not, started: what the throttle counts from,
    /// so that a failing endpoint is not hammered either.
    attempted_at: Option<Timestamp>,
    /// Why the last fetch failed, until one succeeds.
    last_error: Option<String>,
}

/// The outcome of looking a token's key up in the cache.
enum Pick {
    Found(Arc<Key>),
    /// The named key exists but is not for the token's algorithm.
    Mismatch,
    /// The token names no key and several fit.
    Ambiguous,
    Absent,
}

impl KeyCache {
    /// An empty cache of the keys at `source`; nothing is fetched yet.
    pub(crate) fn new(source: JwksSource) -> Self {
        Self {
            source,
            state: Mutex::new(State::default()),
        }
    }

    /// The key to check a token signed with `alg` and naming `kid`, fetching as the
    /// policy allows.
    pub(crate) async fn key_for(
        &self,
        issuer: &str,
        kid: Option<&str>,
        alg: Alg,
        now: Timestamp,
        policy: RefreshPolicy,
        client: Option<&reqwest::Client>,
    ) -> Result<Arc<Key>, Refusal> {
        let mut state = self.state.lock().await;
        let mut fetched = false;
        let stale = state
            .fetched_at
            .is_none_or(|at| has_passed(at, now, policy.max_age));
        if stale && state.may_fetch(now, policy.interval) {
            self.refresh(&mut state, issuer, now, client).await;
            fetched = true;
        }
        let mut pick = pick(&state.keys, kid, alg);
        // A key id the cache lacks may be a key the issuer has just rotated in. A token
        // without `kid` is worth one fetch too if no key fits it at all.
        if matches!(pick, Pick::Absent) && !fetched && state.may_fetch(now, policy.interval) {
            self.refresh(&mut state, issuer, now, client).await;
            pick = self::pick(&state.keys, kid, alg);
        }
        match pick {
            Pick::Found(key) => Ok(key),
            Pick::Mismatch => Err(Refusal::KeyAlgorithmMismatch),
            Pick::Ambiguous => Err(Refusal::unknown_key(None)),
            Pick::Absent => match &state.last_error {
                // Without keys and without a working source nothing can be checked: the
                // server's problem, not the token's.
                Some(why) if state.keys.is_empty() => Err(Refusal::KeysUnavailable(why.clone())),
                _ => Err(Refusal::unknown_key(kid)),
            },
        }
    }

    /// Fetches the keys; on failure the keys already cached stay in use.
    async fn refresh(
        &self,
        state: &mut State,
        issuer: &str,
        now: Timestamp,
        client: Option<&reqwest::Client>,
    ) {
        state.attempted_at = Some(now);
        match jwks::fetch(&self.source, client).await {
            Ok(keys) => {
                tracing::info!(issuer, keys = keys.len(), "fetched the OIDC issuer's keys");
                state.keys = keys;
                state.fetched_at = Some(now);
                state.last_error = None;
            }
            Err(why) => {
                // Not the URL: it may carry credentials. The issuer names the block.
                tracing::warn!(
                    issuer,
                    cached_keys = state.keys.len(),
                    "cannot fetch the OIDC issuer's keys: {why}"
                );
                state.last_error = Some(why);
            }
        }
    }
}

impl State {
    /// Whether the throttle allows a fetch at `now`.
    fn may_fetch(&self, now: Timestamp, interval: Duration) -> bool {
        self.attempted_at
            .is_none_or(|at| has_passed(at, now, interval))
    }
}

/// Whether `span` has passed from `since` to `now`. A `now` before `since` (the clock was
/// set back) counts as passed: otherwise the cache would wait for the clock to catch up,
/// and the fetch it allows resets `since` to the new clock anyway.
pub(crate) fn has_passed(since: Timestamp, now: Timestamp, span: Duration) -> bool {
    let elapsed = since.millis_until(now);
    elapsed < 0 || u64::try_from(elapsed).is_ok_and(|ms| ms >= span.seconds().saturating_mul(1000))
}

/// The cached key for a token.
fn pick(keys: &[Arc<Key>], kid: Option<&str>, alg: Alg) -> Pick {
    match kid {
        Some(kid) => {
            let mut named = keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .peekable();
            if named.peek().is_none() {
                return Pick::Absent;
            }
            named
                .find(|k| k.fits(alg))
                .map_or(Pick::Mismatch, |k| Pick::Found(Arc::clone(k)))
        }
        None => {
            let mut usable = keys.iter().filter(|k| k.fits(alg));
            match (usable.next(), usable.next()) {
                (Some(k), None) => Pick::Found(Arc::clone(k)),
                (Some(_), Some(_)) => Pick::Ambiguous,
                (None, _) => Pick::Absent,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(s).unwrap()
    }

    #[test]
    fn throttle_counts_by_the_given_clock() {
        let thirty = Duration::from_seconds(30).unwrap();
        assert!(!has_passed(at(1_000), at(1_029), thirty));
        assert!(has_passed(at(1_000), at(1_030), thirty));
        assert!(has_passed(at(1_000), at(999), thirty), "clock set back");
    }
}
