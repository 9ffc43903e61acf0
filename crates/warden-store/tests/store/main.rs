//! Store tests against real databases: every test body runs on SQLite and, when
//! `WARDEN_TEST_POSTGRES_URL` is set, on a fresh PostgreSQL database.

// Test bodies live in plain async functions (run once per backend by `both!`), which the
// workspace's in-test exemptions do not cover.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test fails on the first unexpected error"
)]

#[macro_use]
mod support;

mod accounts;
mod audit;
mod errors;
mod grants;
mod jobs;
mod requests;
mod sessions;
mod tx;
