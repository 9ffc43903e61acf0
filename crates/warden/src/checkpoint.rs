//! Signed audit checkpoints: the chain's head `(seq, hash, at)` signed with an Ed25519 key
//! kept outside the database and appended as one JSON line to a file, so that whoever can
//! rewrite the database — delete the newest events and move the head back, or recompute the
//! whole chain — cannot make `warden audit verify` pass against checkpoints already written
//! (and shipped elsewhere).
//!
//! A line is `{"seq":N,"hash":"sha256:…","at":"RFC 3339","key":"BASE64","signature":"BASE64"}`
//! where `key` is the 32-byte public key and `signature` the 64-byte Ed25519 signature over
//! the UTF-8 text [`signed_text`] builds. The public key is also written beside the file as
//! `<file>.pub` (base64 and a newline) so an auditor can verify without the private key.
//!
//! Several servers may append to one file: each line is written by a single `write` on a
//! file opened with `O_APPEND`, while holding an exclusive advisory lock on the file, so
//! lines never interleave whichever of the two the filesystem honours.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use warden_model::Timestamp;
use warden_store::{AuditReport, Store};

use crate::config::{AuditConfig, private_dir};
use crate::setup;
use crate::{Failure, input_error};

/// One signed checkpoint, as written on its line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The last event's seq when signed.
    pub seq: u64,
    /// That event's hash.
    pub hash: String,
    /// When the checkpoint was signed.
    pub at: Timestamp,
    /// The public key (base64) whose private half signed it.
    pub key: String,
    /// The signature (base64) over [`signed_text`].
    pub signature: String,
}

/// The exact text a checkpoint's signature covers.
pub fn signed_text(seq: u64, hash: &str, at: Timestamp) -> String {
    format!("warden audit checkpoint v1\nseq={seq}\nhash={hash}\nat={at}\n")
}

/// The signer: the private key and where checkpoints go.
pub struct Signer {
    key: SigningKey,
    file: PathBuf,
}

impl Signer {
    /// Reads the checkpoint key (making it on first use, mode 0600; refusing one open to
    /// group or others) and checks that the public key beside the file, if there is one,
    /// is this key's.
    pub fn open(config: &AuditConfig) -> Result<Signer, Failure> {
        let seed = setup::key_file(&config.checkpoint_key, "audit checkpoint key")?;
        let signer = Signer {
            key: SigningKey::from_bytes(&seed),
            file: config.checkpoint_file.clone(),
        };
        signer.write_public_key()?;
        Ok(signer)
    }

    fn public_key(&self) -> String {
        STANDARD.encode(self.key.verifying_key().to_bytes())
    }

    /// Writes `<file>.pub` if missing; an existing one must name this key, or checkpoints
    /// signed by two keys would share one file.
    fn write_public_key(&self) -> Result<(), Failure> {
        let path = public_key_path(&self.file);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_dir(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        }
        let mine = self.public_key();
        let made = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path);
        match made {
            Ok(mut f) => f
                .write_all(format!("{mine}\n").as_bytes())
                .and_then(|()| f.sync_all())
                .with_context(|| format!("cannot write `{}`", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let theirs = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read `{}`", path.display()))?;
                // A racing writer may not have written its line yet.
                if !theirs.trim().is_empty() && theirs.trim() != mine {
                    return Err(input_error(anyhow::anyhow!(
                        "`{}` holds another public key than the audit checkpoint key's: \
                         checkpoints in one file must be signed by one key",
                        path.display()
                    )));
                }
            }
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("cannot create `{}`", path.display()))
                    .into());
            }
        }
        Ok(())
    }

    /// Signs the head `(seq, hash)` at `at` and appends it as one line.
    pub fn append(&self, seq: u64, hash: &str, at: Timestamp) -> Result<Checkpoint, Failure> {
        let signature = self.key.sign(signed_text(seq, hash, at).as_bytes());
        let checkpoint = Checkpoint {
            seq,
            hash: hash.to_owned(),
            at,
            key: self.public_key(),
            signature: STANDARD.encode(signature.to_bytes()),
        };
        let mut line = serde_json::to_string(&checkpoint)?;
        line.push('\n');
        if let Some(dir) = self.file.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_dir(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.file)
            .with_context(|| format!("cannot open `{}`", self.file.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock `{}`", self.file.display()))?;
        // One write call per line: with O_APPEND the kernel places it at the end whole.
        let written = (&file).write(line.as_bytes()).and_then(|n| {
            if n == line.len() {
                file.sync_data()
            } else {
                Err(std::io::Error::other(format!(
                    "wrote {n} of {} bytes",
                    line.len()
                )))
            }
        });
        let _ = file.unlock();
        written.with_context(|| format!("cannot append to `{}`", self.file.display()))?;
        Ok(checkpoint)
    }

    /// Signs the store's current head now and appends it; `None` while the chain is empty.
    pub async fn checkpoint(&self, store: &Store) -> Result<Option<Checkpoint>, Failure> {
        let (seq, hash) = store
            .audit_head()
            .await
            .context("cannot read the audit chain's head")?;
        if seq == 0 {
            return Ok(None);
        }
        self.append(seq, &hash, crate::clock::now()).map(Some)
    }
}

/// Where the public key of the checkpoints in `file` is kept.
pub fn public_key_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// What checking the chain against its checkpoints found.
pub enum Verdict {
    /// The chain and every checkpoint hold: how many events and checkpoints were checked
    /// (`None` when there is no checkpoint file).
    Sound {
        /// Events checked.
        events: u64,
        /// Checkpoints checked, if there is a checkpoint file.
        checkpoints: Option<usize>,
        /// The newest checkpoint checked: its seq and when it was signed.
        last: Option<(u64, Timestamp)>,
    },
    /// Something does not hold; the message names the event or checkpoint.
    Broken(String),
}

/// One checkpoint and the line it was read from.
struct Read {
    line: usize,
    checkpoint: Checkpoint,
}

impl Read {
    fn name(&self) -> String {
        format!(
            "checkpoint on line {} (event {}, signed {})",
            self.line, self.checkpoint.seq, self.checkpoint.at
        )
    }
}

/// Checks the chain (see [`Store::verify_audit`]) and then every checkpoint in `file`, one
/// line at a time: its signature under the public key in `<file>.pub`, and the chain's
/// hash at its seq. The chain must not end before any checkpoint. A chain broken at or
/// before a checkpoint's seq names that checkpoint.
pub async fn verify(store: &Store, file: &Path) -> Result<Verdict, Failure> {
    let report = store
        .verify_audit()
        .await
        .context("cannot read the audit chain")?;
    verify_against(store, &report, file).await
}

/// [`verify`] for a chain already walked: `report` is what [`Store::verify_audit`] found.
pub async fn verify_against(
    store: &Store,
    report: &AuditReport,
    file: &Path,
) -> Result<Verdict, Failure> {
    let broken = report
        .first_broken
        .as_ref()
        .map(|b| (b.seq, format!("broken at event {}: {}", b.seq, b.reason)));
    let f = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(match broken {
                None => Verdict::Sound {
                    events: report.checked,
                    checkpoints: None,
                    last: None,
                },
                Some((_, message)) => Verdict::Broken(message),
            });
        }
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("cannot read `{}`", file.display()))
                .into());
        }
    };
    let mut key: Option<(String, VerifyingKey)> = None;
    let mut covering: Option<Read> = None;
    let mut count = 0;
    let mut last: Option<(u64, Timestamp)> = None;
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read `{}`", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let checkpoint: Checkpoint = serde_json::from_str(&line).map_err(|e| {
            input_error(anyhow::anyhow!(
                "{}:{}: not a checkpoint: {e}",
                file.display(),
                i + 1
            ))
        })?;
        let read = Read {
            line: i + 1,
            checkpoint,
        };
        count += 1;
        let (text, public) = match &key {
            Some(k) => k,
            None => key.insert(public_key(file)?),
        };
        if let Some(problem) = check_signature(&read, text, public) {
            return Ok(Verdict::Broken(problem));
        }
        match &broken {
            Some((at, _)) => {
                let covers = read.checkpoint.seq >= *at
                    && covering
                        .as_ref()
                        .is_none_or(|c| read.checkpoint.seq < c.checkpoint.seq);
                if covers {
                    covering = Some(read);
                }
            }
            None => {
                if let Some(problem) = check_against_chain(store, report.checked, &read).await? {
                    return Ok(Verdict::Broken(problem));
                }
                if last.is_none_or(|(seq, _)| read.checkpoint.seq >= seq) {
                    last = Some((read.checkpoint.seq, read.checkpoint.at));
                }
            }
        }
    }
    Ok(match broken {
        None => Verdict::Sound {
            events: report.checked,
            checkpoints: Some(count),
            last,
        },
        Some((_, message)) => Verdict::Broken(match covering {
            Some(r) => format!("{message}; {} covers it", r.name()),
            None => message,
        }),
    })
}

/// The public key kept beside `file`, as written and decoded.
fn public_key(file: &Path) -> Result<(String, VerifyingKey), Failure> {
    let path = public_key_path(file);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read the checkpoints' public key `{}`",
            path.display()
        )
    })?;
    let text = text.trim().to_owned();
    let key = STANDARD
        .decode(&text)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| {
            input_error(anyhow::anyhow!(
                "`{}` does not hold an Ed25519 public key in base64",
                path.display()
            ))
        })?;
    Ok((text, key))
}

fn check_signature(read: &Read, text: &str, key: &VerifyingKey) -> Option<String> {
    let c = &read.checkpoint;
    if c.key != text {
        return Some(format!(
            "{} was signed by another key than the one beside the file",
            read.name()
        ));
    }
    let signature = STANDARD
        .decode(&c.signature)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok());
    let valid = signature.is_some_and(|s| {
        key.verify_strict(signed_text(c.seq, &c.hash, c.at).as_bytes(), &s)
            .is_ok()
    });
    (!valid).then(|| format!("{}: the signature does not verify", read.name()))
}

/// Whether the sound chain, which ends at event `end`, reaches and holds `read`.
async fn check_against_chain(
    store: &Store,
    end: u64,
    read: &Read,
) -> Result<Option<String>, Failure> {
    let seq = read.checkpoint.seq;
    if seq > end {
        return Ok(Some(format!(
            "the chain ends at event {end} but {} was signed over event {seq}: events were removed",
            read.name()
        )));
    }
    let event = store
        .audit_after(seq.saturating_sub(1), 1)
        .await
        .context("cannot read the audit chain")?;
    let holds = event
        .first()
        .is_some_and(|e| e.seq == seq && e.hash == read.checkpoint.hash);
    Ok((!holds).then(|| {
        format!(
            "{} does not match the chain: event {seq} was altered or replaced",
            read.name()
        )
    }))
}

/// The evidence report's check of the checkpoint file: [`verify`] run by the engine.
#[derive(Debug)]
pub struct FileVerifier {
    /// The checkpoint file (its public key beside it).
    pub file: PathBuf,
}

impl warden_engine::report::CheckpointVerifier for FileVerifier {
    fn verify<'a>(
        &'a self,
        store: &'a Store,
        chain: &'a AuditReport,
    ) -> std::pin::Pin<Box<dyn Future<Output = warden_engine::report::CheckpointCheck> + Send + 'a>>
    {
        Box::pin(async move {
            use warden_engine::report::CheckpointCheck;
            match verify_against(store, chain, &self.file).await {
                Ok(Verdict::Sound {
                    checkpoints, last, ..
                }) => CheckpointCheck {
                    checked: checkpoints.map_or(0, |n| n as u64),
                    problem: None,
                    last,
                },
                Ok(Verdict::Broken(problem)) => CheckpointCheck {
                    checked: 0,
                    problem: Some(problem),
                    last: None,
                },
                Err(f) => CheckpointCheck {
                    checked: 0,
                    problem: Some(format!("{:#}", f.error)),
                    last: None,
                },
            }
        })
    }
}
