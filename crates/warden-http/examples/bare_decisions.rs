//! The bare counterpart of `POST /v1/decisions` for `scripts/bench`: an axum server whose
//! only handler parses the body as a request and returns `decide()`'s decision as JSON —
//! no token check, no store read (no active grants, no open reviews), no metrics, no body
//! rules beyond axum's. The same bundle, runtime and JSON as `warden serve`, so the ratio
//! of the two is what Warden's front door and store cost around the decision.
//!
//! ```text
//! cargo run --release -p warden-http --example bare_decisions -- ADDR BUNDLE_DIR
//! ```
//!
//! Not a way to run Warden: it authenticates no one.

#![allow(
    clippy::expect_used,
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "a measurement program: it reads the wall clock and fails loudly"
)]

/// The allocator `warden` runs with, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use warden_engine::{Clock as _, SystemClock};
use warden_model::{Decision, Request};
use warden_policy::{Bundle, DecisionInput};

async fn decide(
    State(bundle): State<Arc<Bundle>>,
    body: Bytes,
) -> Result<Json<Decision>, (StatusCode, String)> {
    let request =
        Request::from_json(&body).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    Ok(Json(bundle.decide(&DecisionInput {
        request: &request,
        grants: &[],
        open_reviews: &[],
        at: SystemClock.now(),
    })))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18082".into());
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "examples/bundle".into()));
    let bundle = Arc::new(Bundle::load(&dir).expect("the bundle loads"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let app = axum::Router::new()
            .route("/v1/decisions", post(decide))
            .with_state(bundle);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .expect("the address is free");
        println!("bare decisions on http://{addr}");
        axum::serve(listener, app).await.expect("serves");
    });
}
