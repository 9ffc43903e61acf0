//! Rows read by key, each kept with the [`Stamp`] of the database they were read from, and
//! given again only while the database still has that stamp: an answer from here is one a
//! read transaction begun now would give.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::wal_index::Stamp;

/// Keys kept before the memo starts over: it holds what the hot path reads again and again
/// (the subjects being decided for), not a copy of a table.
const MAX_KEYS: usize = 4096;

/// Rows of type `T` by key.
pub(crate) struct Memo<T> {
    entries: Mutex<Entries<T>>,
}

/// Each key's rows, with the stamp they were read under.
type Entries<T> = HashMap<String, (Stamp, Arc<[T]>)>;

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Memo {
            entries: Mutex::default(),
        }
    }
}

impl<T> Memo<T> {
    /// The rows kept for `key`, if they were read when the database had stamp `now`.
    pub(crate) fn get(&self, key: &str, now: Stamp) -> Option<Arc<[T]>> {
        let entries = self.entries();
        let (stamp, rows) = entries.get(key)?;
        (*stamp == now).then(|| Arc::clone(rows))
    }

    /// Keeps `rows` for `key`, read by a transaction begun after the database had `stamp`.
    pub(crate) fn put(&self, key: &str, stamp: Stamp, rows: Arc<[T]>) {
        let mut entries = self.entries();
        if entries.len() >= MAX_KEYS && !entries.contains_key(key) {
            entries.clear();
        }
        entries.insert(key.to_owned(), (stamp, rows));
    }

    /// A panic while the entries were held cannot leave an insert half done.
    fn entries(&self) -> MutexGuard<'_, Entries<T>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
