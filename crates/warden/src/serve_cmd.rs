//! `warden serve`: the API and the job worker in one process, on the configured store and
//! bundle, until SIGTERM or Ctrl-C — then requests in flight finish and the worker stops.

use std::sync::Arc;

use anyhow::Context as _;
use warden_engine::seal::Sealer;
use warden_engine::{Engine, EngineConfig, SystemClock};

use crate::setup::{self, ConfigArg};
use crate::{Failure, connector, input_error, load_bundle};

/// Runs the server until a shutdown signal.
pub fn run(arg: &ConfigArg) -> Result<u8, Failure> {
    let config = setup::start(arg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store = setup::open_store(&config).await?;
        let bundle = load_bundle(&config.bundle.path)?;
        let connectors = connector::build(&config.connectors)
            .await
            .context("cannot set up the connectors")?;
        match connectors.check_bundle(&bundle) {
            Ok(unconfigured) => {
                for w in unconfigured {
                    tracing::warn!("{w}: its grants will fail to provision");
                }
            }
            Err(errors) => return Err(input_error(anyhow::anyhow!(errors.join("\n")))),
        }
        let key = setup::sealing_key(&config)?;
        let signer = Arc::new(crate::checkpoint::Signer::open(&config.audit)?);
        let itsms = crate::itsm::build(&config.itsms, &|var| std::env::var(var).ok())
            .map_err(input_error)?;
        let alerts = crate::alert::build(&config.alerts, config.alert_delivery.give_up_after)
            .map_err(input_error)?;
        let engine_config = EngineConfig {
            approval_window: config.lifecycle.approval_window,
            lease: std::time::Duration::from_secs(config.worker.lease.seconds()),
            batch: config.worker.batch,
            connectors,
            sealer: Some(Arc::new(Sealer::new(key))),
            rotation_overlap: config.provisioning.rotation_overlap,
            reconcile_every: Some(config.provisioning.reconcile_every),
            remove_orphans: config.provisioning.remove_orphans,
            itsms,
            workloads: crate::setup::workloads(&config)?,
            checkpoints: Some(Arc::new(crate::checkpoint::FileVerifier {
                file: config.audit.checkpoint_file.clone(),
            })),
            goals: config.report.goals(),
            alerts,
            ..EngineConfig::default()
        };
        let engine = Engine::new(store.clone(), bundle, Arc::new(SystemClock), engine_config)
            .await
            .context("cannot start the engine")?;
        engine
            .schedule_reconciliation()
            .await
            .context("cannot schedule reconciliation")?;
        engine
            .schedule_polling()
            .await
            .context("cannot schedule ITSM polling")?;
        engine
            .schedule_campaigns()
            .await
            .context("cannot schedule review campaigns")?;
        engine
            .schedule_alert_scans()
            .await
            .context("cannot schedule the alerts' scans")?;
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on `{}`", config.server.listen))?;
        let addr = listener
            .local_addr()
            .context("cannot read the bound address")?;
        tracing::info!(%addr, bundle = %engine.bundle().hash(), "listening");
        #[expect(
            clippy::print_stdout,
            reason = "tells scripts and tests the bound address"
        )]
        {
            println!("listening on {addr}");
        }

        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing requests in flight");
            let _ = stop.send(true);
        });
        // Every server follows the store's active bundle, so an activation made anywhere
        // (`warden bundle activate`, another server's SIGHUP) reaches it within a second.
        let watcher = {
            let engine = engine.clone();
            let rx = stopped.clone();
            tokio::spawn(async move { engine.watch_bundle(BUNDLE_WATCH, rx).await })
        };
        let reloader = {
            let engine = engine.clone();
            let path = config.bundle.path.clone();
            let rx = stopped.clone();
            tokio::spawn(async move { reload_on_hangup(engine, path, rx).await })
        };
        let worker = config.worker.enabled.then(|| {
            let engine = engine.clone();
            let poll = std::time::Duration::from_secs(config.worker.poll_every.seconds());
            let rx = stopped.clone();
            tokio::spawn(async move { engine.run_worker(worker_id(), poll, rx).await })
        });
        let checkpoints = tokio::spawn(checkpoint_loop(
            Arc::clone(&signer),
            store.clone(),
            std::time::Duration::from_secs(config.audit.checkpoint_every.seconds()),
            stopped.clone(),
        ));
        let mut rx = stopped.clone();
        let console = crate::console::build(&config, engine.clone(), addr)?;
        let mut state = warden_http::AppState::new(engine, config.server.body_limit.bytes());
        if let Some(token) = &config.server.metrics_token {
            state = state.with_metrics_token(token.expose().into());
        }
        let seconds = |d: warden_model::Duration| std::time::Duration::from_secs(d.seconds());
        let limits = warden_http::ServerLimits {
            header_read_timeout: seconds(config.server.header_read_timeout),
            body_read_timeout: seconds(config.server.body_read_timeout),
            idle_timeout: seconds(config.server.idle_timeout),
            max_connections: usize::try_from(config.server.max_connections).unwrap_or(usize::MAX),
            max_in_flight: usize::try_from(config.server.max_in_flight).unwrap_or(usize::MAX),
        };
        let app = warden_http::router(state).merge(warden_console::router(console));
        warden_http::serve_router(listener, app, limits, async move {
            let _ = rx.wait_for(|stop| *stop).await;
        })
        .await
        .context("the server failed")?;
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        let _ = watcher.await;
        reloader.abort();
        let _ = checkpoints.await;
        // The last word: a checkpoint over everything this process did.
        if let Err(f) = signer.checkpoint(&store).await {
            tracing::error!(
                error = format!("{:#}", f.error),
                "cannot write the audit checkpoint"
            );
        }
        store.close().await;
        tracing::info!("stopped");
        Ok::<u8, Failure>(0)
    })
}

/// How often a server reads which bundle is active.
const BUNDLE_WATCH: std::time::Duration = std::time::Duration::from_secs(1);

/// On every SIGHUP, re-reads the bundle at `path` and activates it; an invalid bundle is
/// logged and the active one stays.
async fn reload_on_hangup(
    engine: Engine,
    path: std::path::PathBuf,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    #[cfg(unix)]
    {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!(
                "cannot listen for SIGHUP; bundles are activated with `warden bundle activate` only"
            );
            return;
        };
        loop {
            tokio::select! {
                got = hup.recv() => if got.is_none() { return },
                _ = stopped.wait_for(|stop| *stop) => return,
            }
            let bundle = match warden_policy::Bundle::load(&path) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(path = %path.display(), "SIGHUP: the bundle is invalid; the active one stays:\n{e}");
                    continue;
                }
            };
            if let Err(errors) = engine.connectors().check_bundle(&bundle) {
                tracing::error!(path = %path.display(), errors = %errors.join("; "), "SIGHUP: the bundle does not fit the connectors; the active one stays");
                continue;
            }
            match engine
                .activate(bundle, &format!("server:{}", std::process::id()))
                .await
            {
                Ok(done) => {
                    tracing::info!(bundle = %done.hash, changed = done.changed, "SIGHUP: bundle activated")
                }
                Err(e) => tracing::error!(error = %e, "SIGHUP: cannot activate the bundle"),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (engine, path, stopped.wait_for(|stop| *stop).await);
    }
}

/// Signs the audit chain's head every `every` until `stop`, skipping a head this loop has
/// already signed. A failure is logged and retried at the next tick: the chain itself is
/// intact, only its outside witness is late.
async fn checkpoint_loop(
    signer: Arc<crate::checkpoint::Signer>,
    store: warden_store::Store,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let head = match store.audit_head().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the audit chain's head");
                continue;
            }
        };
        if head.0 == 0 || last.as_ref() == Some(&head) {
            continue;
        }
        match signer.append(head.0, &head.1, crate::clock::now()) {
            Ok(_) => last = Some(head),
            Err(f) => {
                tracing::error!(
                    error = format!("{:#}", f.error),
                    "cannot write the audit checkpoint"
                );
            }
        }
    }
}

/// A worker id unique to this process: the pid and random bits, so two processes on one
/// host never share leases.
fn worker_id() -> String {
    let mut bytes = [0u8; 4];
    let suffix = getrandom::fill(&mut bytes).map_or_else(
        |_| String::new(),
        |()| bytes.iter().map(|b| format!("{b:02x}")).collect(),
    );
    format!("{}-{suffix}", std::process::id())
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
