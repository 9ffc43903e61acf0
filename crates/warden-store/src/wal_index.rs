//! Whether a SQLite database in WAL mode has changed, told without a transaction.
//!
//! Every commit to a database in WAL mode — by any connection of any process — rewrites the
//! header of its WAL index, the `-shm` file that all of them share as memory: the change
//! counter (`iChange`) goes up by one with each transaction, the last valid frame
//! (`mxFrame`) moves, and a restarted WAL gets new salts (<https://sqlite.org/walformat.html>,
//! "The WAL-Index Header"). SQLite's own readers decide whether the pages they cached are
//! still current by comparing that header, read without a lock, with the one they saw last;
//! a [`Stamp`] is the same comparison for Warden's [`crate::memo::Memo`]. The header is kept
//! twice and a writer writes the second copy, then the first: a read that finds the two
//! different raced a commit, and gives no stamp.
//!
//! Two rules keep the comparison sound:
//! - The index is only rebuilt from nothing (its file truncated) by a connection that opens
//!   a database no connection anywhere has open. The [`crate::local::LocalReads`] that takes
//!   stamps holds a connection that has read the database, and so has the index open, for
//!   as long as it takes them.
//! - POSIX locks belong to the process, and closing any of the process's descriptors of a
//!   file drops every lock the process holds on it — SQLite's locks on the `-shm` file
//!   included. A descriptor opened here is therefore never closed: there is one per `-shm`
//!   file (by device and inode) for the life of the process, shared by every store on it.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Bytes in one copy of the WAL-index header.
const HEADER: usize = 48;

/// Offset of `isInit` in a copy of the header: 1 once the index has been built.
const IS_INIT: usize = 12;

/// The state of a database's WAL index at one instant: equal stamps mean no transaction
/// committed in between.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Stamp([u8; HEADER]);

/// The WAL index of one database file, read without locks.
#[derive(Debug)]
pub(crate) struct WalIndex {
    shm: Arc<File>,
}

impl WalIndex {
    /// The index of the database at `path`, which must be in WAL mode and held open (see the
    /// module's rules) by the caller. `None` when it has no `-shm` file to read.
    pub(crate) fn open(path: &Path) -> Option<WalIndex> {
        let mut name = path.as_os_str().to_owned();
        name.push("-shm");
        shm_file(Path::new(&name)).map(|shm| WalIndex { shm })
    }

    /// The index's state now, or `None` when it cannot be told (a commit was writing the
    /// header, or the index is not built).
    pub(crate) fn stamp(&self) -> Option<Stamp> {
        let mut both = [0u8; 2 * HEADER];
        let read = self.shm.read_at(&mut both, 0).ok()?;
        stamp_of(both.get(..read)?)
    }
}

/// The stamp in the first `2 * HEADER` bytes of a WAL index, when its two copies agree and
/// it is built.
fn stamp_of(bytes: &[u8]) -> Option<Stamp> {
    let first = bytes.get(..HEADER)?;
    let second = bytes.get(HEADER..2 * HEADER)?;
    if first != second || first.get(IS_INIT) != Some(&1) {
        return None;
    }
    first.try_into().ok().map(Stamp)
}

/// The process's descriptor of the `-shm` file at `path`, opened on first use and never
/// closed (see the module's rules).
fn shm_file(path: &Path) -> Option<Arc<File>> {
    /// Descriptors by the device and inode they were opened on, and any opened as a race
    /// lost (the name meant another inode once opened): those are kept too, never closed.
    #[derive(Default)]
    struct Open {
        by_inode: HashMap<(u64, u64), Arc<File>>,
        kept: Vec<File>,
    }
    static OPEN: OnceLock<Mutex<Open>> = OnceLock::new();
    let mut open = OPEN
        .get_or_init(Mutex::default)
        .lock()
        // Only inserts are made under the lock: a panic cannot leave one half done.
        .unwrap_or_else(PoisonError::into_inner);
    let named = std::fs::metadata(path).ok()?;
    if let Some(file) = open.by_inode.get(&(named.dev(), named.ino())) {
        return Some(Arc::clone(file));
    }
    let file = File::open(path).ok()?;
    let Some(opened) = file.metadata().ok().map(|m| (m.dev(), m.ino())) else {
        open.kept.push(file);
        return None;
    };
    if let Some(known) = open.by_inode.get(&opened).map(Arc::clone) {
        open.kept.push(file);
        return Some(known);
    }
    // An entry is never removed, so the inode it names cannot be freed and its number
    // taken by another file.
    let file = Arc::new(file);
    open.by_inode.insert(opened, Arc::clone(&file));
    Some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(i_change: u8, is_init: u8) -> [u8; HEADER] {
        let mut h = [0u8; HEADER];
        h[8] = i_change;
        h[IS_INIT] = is_init;
        h
    }

    fn index(first: [u8; HEADER], second: [u8; HEADER]) -> Vec<u8> {
        [first, second].concat()
    }

    #[test]
    fn a_stamp_is_the_header_when_both_copies_agree_and_the_index_is_built() {
        let h = header(7, 1);
        assert_eq!(stamp_of(&index(h, h)), Some(Stamp(h)));
        assert_ne!(
            stamp_of(&index(h, h)),
            stamp_of(&index(header(8, 1), header(8, 1)))
        );
    }

    #[test]
    fn no_stamp_while_a_commit_writes_the_header_or_before_the_index_is_built() {
        assert_eq!(stamp_of(&index(header(7, 1), header(8, 1))), None, "torn");
        assert_eq!(
            stamp_of(&index(header(7, 0), header(7, 0))),
            None,
            "not built"
        );
        assert_eq!(
            stamp_of(&index(header(7, 1), header(7, 1))[..HEADER + 3]),
            None,
            "short"
        );
    }
}
