//! `warden report` as an auditor runs it, over a month of recorded grants: the three formats,
//! clear errors for bad arguments, an HTML file that fetches nothing, and — in headless
//! Chromium (`WARDEN_TEST_CHROMIUM_URL`, the browser's path) — a page that renders: the
//! screenshot is the page's width, has content, stays inside its column, and shows both a
//! met and a breached status.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use warden_engine::review::{Closing, Viewer};
use warden_engine::{Engine, EngineConfig, ManualClock};
use warden_model::{Request, Timestamp};
use warden_policy::Bundle;
use warden_store::testing::{self, SQLITE_FILE};

use support::root;

fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A month of grants recorded without targets: every day one read for alice and, every
/// third day, a break-glass for dave, each handled 30 s after it expires.
async fn month(dir: &Path) {
    let url = format!("sqlite://{}", dir.join(SQLITE_FILE).display());
    let store = warden_store::Store::connect(&url).await.unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-11-01T00:00:00Z")));
    let bundle = warden_policy::testing::record_only(
        &Bundle::load(&root().join("examples/bundle")).unwrap(),
    );
    let engine = Engine::new(store, bundle, clock.clone(), EngineConfig::default())
        .await
        .unwrap();
    let drain = || async { while engine.run_due_jobs("w").await.unwrap() > 0 {} };
    for day in 1..=29u32 {
        let ask = |who: &str, json: String| {
            let engine = &engine;
            let who = who.to_owned();
            async move {
                engine
                    .intake(&who, Request::from_json(json.as_bytes()).unwrap())
                    .await
                    .unwrap();
            }
        };
        clock.set(at(&format!("2026-11-{day:02}T09:00:00Z")));
        ask("alice", format!(r#"{{"source":"jira","ticket":"R-{day}","requester":"alice","role":"session-cache.read","duration":"{}h","purpose":"support"}}"#, 1 + day % 6)).await;
        if day % 3 == 0 {
            ask("dave", format!(r#"{{"source":"jira","ticket":"G-{day}","requester":"dave","role":"session-cache.write","duration":"1h","emergency":true,"purpose":"INC-{day}"}}"#)).await;
        }
        drain().await;
        for hour in 10..=15 {
            clock.set(at(&format!("2026-11-{day:02}T{hour}:00:30Z")));
            drain().await;
        }
        // Henry, the other on-call engineer, reviews the day's emergency: until he does,
        // dave's next one would be denied.
        let viewer = Viewer {
            identity: "henry".parse().unwrap(),
            reads_all: false,
        };
        for r in engine.reviews(&viewer, true, 10).await.unwrap() {
            engine
                .close_review(&viewer, &r.id, Closing::Justified, None)
                .await
                .unwrap();
        }
    }
    engine.store().close().await;
}

struct Env {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Env {
    /// Writes the HTML report over [`WINDOW`] with `--out`, and returns its path.
    fn html(&self) -> PathBuf {
        let html = self.dir.path().join("report.html");
        let out = self.report(
            &[
                &WINDOW[..],
                &["--format", "html", "--out", html.to_str().unwrap()],
            ]
            .concat(),
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "the report went to the file");
        html
    }

    fn report(&self, args: &[&str]) -> Output {
        support::warden(self.dir.path())
            .args(["report", "--config", self.config.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    }
}

async fn env() -> Env {
    let (_store, dir) = testing::sqlite().await;
    month(dir.path()).await;
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = 'sqlite://{}'\n\n[bundle]\npath = '{}'\n",
            dir.path().join(SQLITE_FILE).display(),
            root().join("examples/bundle").display()
        ),
    )
    .unwrap();
    Env { dir, config }
}

const WINDOW: [&str; 4] = [
    "--since",
    "2026-11-01T00:00:00Z",
    "--until",
    "2026-12-01T00:00:00Z",
];

#[tokio::test]
async fn the_report_comes_as_json_csv_and_html_and_refuses_bad_arguments() {
    let env = env().await;

    let out = env.report(&WINDOW);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["metrics"].as_object().unwrap().len(), 16);
    // 29 reads and 9 break-glass grants, all expired and removed 30 s late at most.
    assert_eq!(json["metrics"]["decisions"]["detail"]["total"], 38);
    assert_eq!(json["metrics"]["decisions"]["numerator"], 9);
    assert_eq!(json["metrics"]["break_glass_hygiene"]["value"], 1);
    assert_eq!(json["metrics"]["time_to_revoke"]["detail"]["count"], 38);
    assert_eq!(json["metrics"]["audit_integrity"]["value"], 0);
    assert_eq!(json["metrics"]["orphaned_nhis"]["status"], "breach");

    let out = env.report(&[&WINDOW[..], &["--format", "csv"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 17, "{csv}");
    assert!(lines[0].starts_with("metric,value,numerator,denominator,goal,status"));
    assert!(
        csv.contains("\ndecisions,0.2368,9,38,reported,ok,9,"),
        "{csv}"
    );

    for (args, named) in [
        (vec!["--format", "xml"], "`format`"),
        (vec!["--since", "yesterday"], "`since`"),
        (
            vec![
                "--since",
                "2026-12-01T00:00:00Z",
                "--until",
                "2026-11-01T00:00:00Z",
            ],
            "`since`",
        ),
    ] {
        let out = env.report(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(named),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }

    let html = env.html();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(page.matches("<section class=\"metric").count(), 16);
    assert_eq!(page.matches("<svg").count(), 16);
    for fetches in [
        "<script", "<link", "<img", "src=", "url(", "http://", "https://", "@import",
    ] {
        assert!(
            !page.contains(fetches),
            "the page must be self-contained: `{fetches}`"
        );
    }
}

#[tokio::test]
async fn the_html_report_renders_in_headless_chromium() {
    let Some(chromium) = warden_model::testing::service_url("chromium") else {
        return;
    };
    let env = env().await;
    let html = env.html();

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("evidence-report.png");
    let _ = std::fs::remove_file(&shot);
    let out = std::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--window-size=1280,2400",
            &format!(
                "--user-data-dir={}",
                env.dir.path().join("chromium").display()
            ),
            &format!("--screenshot={}", shot.display()),
        ])
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(shot.exists(), "no screenshot: {}", text(&out.stderr));

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 2400));
    let channels = info.line_size / info.width as usize;
    let pixel = |x: u32, y: u32| {
        let i = y as usize * info.line_size + x as usize * channels;
        (buf[i], buf[i + 1], buf[i + 2])
    };
    let near = |(r, g, b): (u8, u8, u8), (r2, g2, b2): (u8, u8, u8)| {
        r.abs_diff(r2) <= 6 && g.abs_diff(g2) <= 6 && b.abs_diff(b2) <= 6
    };
    let background = (0xf4, 0xf6, 0xf9);
    let (mut content, mut outside, mut ok, mut breach) = (0u64, 0u64, 0u64, 0u64);
    for y in 0..info.height {
        for x in 0..info.width {
            let p = pixel(x, y);
            if near(p, background) {
                continue;
            }
            content += 1;
            // The column is 1080 px wide and centred: nothing may spill into the margins.
            if !(100..1180).contains(&x) {
                outside += 1;
            }
            if near(p, (0xdf, 0xf3, 0xe4)) {
                ok += 1;
            }
            if near(p, (0xfb, 0xe0, 0xe0)) {
                breach += 1;
            }
        }
    }
    let total = u64::from(info.width) * u64::from(info.height);
    assert!(
        content * 100 > total * 20,
        "the page looks empty: {content} of {total} pixels"
    );
    assert_eq!(outside, 0, "content outside the report's column");
    assert!(ok > 200, "no `ok` status drawn ({ok} pixels)");
    assert!(breach > 200, "no `breach` status drawn ({breach} pixels)");
    // The heading is drawn dark near the top.
    let dark = (0..120)
        .flat_map(|y| (100..700).map(move |x| (x, y)))
        .filter(|(x, y)| {
            let (r, g, b) = pixel(*x, *y);
            u16::from(r) + u16::from(g) + u16::from(b) < 200
        })
        .count();
    assert!(dark > 500, "no heading drawn ({dark} dark pixels)");
}
