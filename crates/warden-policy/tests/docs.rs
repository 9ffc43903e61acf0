//! The examples in `docs/` are run here: every ```` ```toml case ```` block is a policy test
//! against the example bundle, and every ```` ```cedar ```` block must load with it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};

use warden_policy::{Bundle, SourceFile, case};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fenced blocks of `markdown` whose info string is exactly `info`, with their line.
fn blocks(markdown: &str, info: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in markdown.lines().enumerate() {
        match &mut current {
            None if line.trim() == format!("```{info}") => current = Some((n + 2, String::new())),
            Some(_) if line.trim() == "```" => out.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    out
}

fn docs() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn policy_test_cases_in_the_docs_pass() {
    let bundle = Bundle::load(&root().join("examples/bundle")).unwrap();
    let mut ran = 0;
    for (name, text) in docs() {
        for (line, block) in blocks(&text, "toml case") {
            let file = SourceFile {
                name: format!("docs/{name}"),
                text: block,
            };
            for (_, c) in case::parse(&file).unwrap() {
                let r = case::run(&bundle, &c, format!("docs/{name}:{line}"));
                assert!(
                    r.passed(),
                    "{} ({}): {:?}",
                    r.name,
                    r.location,
                    r.mismatches
                );
                ran += 1;
            }
        }
    }
    assert!(ran >= 4, "only {ran} cases found in docs/");
}

#[test]
fn cedar_examples_in_the_docs_load_with_the_example_catalog() {
    let catalog = std::fs::read_to_string(root().join("examples/bundle/catalog.toml")).unwrap();
    let mut ran = 0;
    for (name, text) in docs() {
        for (line, block) in blocks(&text, "cedar") {
            Bundle::from_files(vec![
                SourceFile {
                    name: "catalog.toml".into(),
                    text: catalog.clone(),
                },
                SourceFile {
                    name: "policies/doc.cedar".into(),
                    text: block,
                },
            ])
            .unwrap_or_else(|e| panic!("docs/{name}:{line}: {e}"));
            ran += 1;
        }
    }
    assert!(ran >= 1);
}
