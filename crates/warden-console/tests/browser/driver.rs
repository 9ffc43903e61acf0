//! Headless Chromium over WebDriver: a chromedriver of the test's own on a free port, one
//! browser per person (each with a fresh profile, so no cookie is shared), and what a test
//! does with a page: waiting for text, clicking, typing, checking it with axe-core and at
//! 375 px, and taking its picture.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long any wait lasts before the test fails.
pub const PATIENCE: StdDuration = StdDuration::from_secs(10);
/// How often a wait looks again.
const EVERY: StdDuration = StdDuration::from_millis(100);

/// A chromedriver this test started, killed with every browser it started when dropped.
pub struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Starts `chromedriver` on a free loopback port and waits until it answers.
    pub async fn start(chromedriver: &str) -> Self {
        let port = free_port();
        let mut command = Command::new(chromedriver);
        command
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group: dropping the driver ends the browsers it started too,
        // even when a failed test never closed them.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {chromedriver}: {e}"));
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not listen on port {port} within {PATIENCE:?}"
            );
            tokio::time::sleep(EVERY).await;
        }
        driver
    }

    /// A new headless browser with a fresh profile, its window 1280×900.
    pub async fn browser(&self, chromium: &str, base: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                    "--window-size=1280,900",
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("no browser session from chromedriver: {e}"));
        Browser {
            client,
            base: base.to_owned(),
            _profile: profile,
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and any browser still open.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One person's browser.
pub struct Browser {
    pub client: Client,
    base: String,
    _profile: tempfile::TempDir,
}

/// Polls `probe` until it gives a value, failing after [`PATIENCE`] with `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {PATIENCE:?} for {what}"
        );
        tokio::time::sleep(EVERY).await;
    }
}

/// Whether an error may only mean "not there (yet)": the browser answered, but the
/// element is missing, or went with the page it was on (a navigation was under way). A
/// wait that keeps getting one fails at its deadline; any other error fails at once.
fn missing(e: &CmdError) -> bool {
    matches!(e, CmdError::Standard(_))
}

impl Browser {
    /// The absolute URL of console path `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Opens console path `path` (or an absolute URL).
    pub async fn goto(&self, path: &str) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            self.url(path)
        };
        self.client.goto(&url).await.unwrap();
    }

    /// The current URL's path and query.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Waits until the current path starts with `prefix`; returns the path.
    pub async fn wait_path(&self, prefix: &str) -> String {
        eventually(&format!("a page under {prefix}"), || async {
            let path = self.path().await;
            path.starts_with(prefix).then_some(path)
        })
        .await
    }

    /// Waits until the current URL starts with `prefix`; returns it.
    pub async fn wait_url(&self, prefix: &str) -> String {
        eventually(&format!("a page at {prefix}"), || async {
            let url = self.client.current_url().await.unwrap().to_string();
            url.starts_with(prefix).then_some(url)
        })
        .await
    }

    /// Waits for the first element matching CSS `css`.
    pub async fn find(&self, css: &str) -> Element {
        eventually(&format!("an element `{css}`"), || async {
            match self.client.find(Locator::Css(css)).await {
                Ok(e) => Some(e),
                Err(e) if missing(&e) => None,
                Err(e) => panic!("finding `{css}`: {e}"),
            }
        })
        .await
    }

    /// The text of the first element matching `css`, or `None` when there is none.
    pub async fn text_of(&self, css: &str) -> Option<String> {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => match e.text().await {
                Ok(t) => Some(t),
                Err(e) if missing(&e) => None,
                Err(e) => panic!("reading `{css}`: {e}"),
            },
            Err(e) if missing(&e) => None,
            Err(e) => panic!("finding `{css}`: {e}"),
        }
    }

    /// Waits until the element matching `css` shows `needle`; returns its text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let mut last = String::new();
        let found = tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(t) = self.text_of(css).await {
                    if t.contains(needle) {
                        return t;
                    }
                    last = t;
                }
                tokio::time::sleep(EVERY).await;
            }
        })
        .await;
        match found {
            Ok(t) => t,
            Err(_) => panic!(
                "waited {PATIENCE:?} for `{css}` to show {needle:?} on {}; it shows {last:?}",
                self.path().await
            ),
        }
    }

    /// The page's visible text.
    pub async fn body(&self) -> String {
        self.text_of("body").await.unwrap_or_default()
    }

    /// Waits for the page's heading to be `title`.
    pub async fn wait_title(&self, title: &str) {
        self.wait_text("main h1", title).await;
    }

    /// Clicks the button whose text is `label` (inside `within`, a CSS scope).
    pub async fn click_button(&self, within: &str, label: &str) {
        let xpath = format!(".//button[normalize-space()='{label}']");
        eventually(&format!("a button {label:?} in `{within}`"), || async {
            let scope = self.client.find(Locator::Css(within)).await;
            let button = match scope {
                Ok(scope) => scope.find(Locator::XPath(&xpath)).await,
                Err(e) => Err(e),
            };
            match button {
                Ok(b) => match b.click().await {
                    Ok(()) => Some(()),
                    Err(e) if missing(&e) => None,
                    Err(e) => panic!("clicking button {label:?}: {e}"),
                },
                Err(e) if missing(&e) => None,
                Err(e) => panic!("finding button {label:?}: {e}"),
            }
        })
        .await;
    }

    /// Clicks the link whose text is `label`.
    pub async fn click_link(&self, label: &str) {
        eventually(&format!("a link {label:?}"), || async {
            match self.client.find(Locator::LinkText(label)).await {
                Ok(a) => match a.click().await {
                    Ok(()) => Some(()),
                    Err(e) if missing(&e) => None,
                    Err(e) => panic!("clicking link {label:?}: {e}"),
                },
                Err(e) if missing(&e) => None,
                Err(e) => panic!("finding link {label:?}: {e}"),
            }
        })
        .await;
    }

    /// Types `text` into the field matching `css`, after clearing it.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Picks the option with value `value` of the select matching `css`, as a click would.
    pub async fn choose(&self, css: &str, value: &str) {
        self.find(css).await.select_by_value(value).await.unwrap();
    }

    /// Runs `script` in the page and returns what it returns.
    pub async fn run(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Injects axe-core (`source`) and runs the WCAG 2.1 A and AA rules on the page;
    /// returns each serious or critical violation as `rule (impact): targets`.
    pub async fn axe(&self, source: &str) -> Vec<String> {
        self.client.execute(source, vec![]).await.unwrap();
        let result = self
            .client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
                  .then(r => done({violations: r.violations.map(v => ({
                      id: v.id, impact: v.impact, help: v.help,
                      targets: v.nodes.map(n => n.target.join(' '))}))}))
                  .catch(e => done({error: String(e)}));"#,
                vec![],
            )
            .await
            .unwrap();
        if let Some(e) = result.get("error") {
            panic!("axe failed: {e}");
        }
        result["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| {
                format!(
                    "{} ({}): {} — {}",
                    v["id"].as_str().unwrap_or("?"),
                    v["impact"].as_str().unwrap_or("?"),
                    v["help"].as_str().unwrap_or(""),
                    v["targets"]
                )
            })
            .collect()
    }

    /// The page's width, the window's inner width and whether an element sticks out.
    pub async fn widths(&self) -> (u64, u64) {
        let w = self
            .run("return [document.documentElement.scrollWidth, window.innerWidth];")
            .await;
        (w[0].as_u64().unwrap(), w[1].as_u64().unwrap())
    }

    /// Sets the window to `width`×`height`, waiting until the page has that inner width.
    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
        eventually(&format!("an inner width of {width}"), || async {
            (self.widths().await.1 == u64::from(width)).then_some(())
        })
        .await;
    }

    /// Takes a picture of the whole page (the window made as tall as the page, at most
    /// `max_height` px) at `width`, and puts the window back at 1280×900.
    pub async fn picture(&self, width: u32, max_height: u64) -> Vec<u8> {
        self.resize(width, 900).await;
        // The window is taller than the page's viewport by its own frame.
        let sizes = self
            .run(
                "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight];",
            )
            .await;
        let tall = sizes[0].as_u64().unwrap_or(900).clamp(600, max_height)
            + sizes[1].as_u64().unwrap_or(0);
        self.client
            .set_window_size(width, u32::try_from(tall).unwrap())
            .await
            .unwrap();
        let png = self.client.screenshot().await.unwrap();
        self.resize(1280, 900).await;
        png
    }

    /// Ends the browser.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// Where pictures of the pages go: `target/console-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots")
}

/// Where the pictures the documentation shows go: `docs/console/`.
pub fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/console")
}
