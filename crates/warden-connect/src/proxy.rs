//! A TCP proxy for tests that need a target (or a database) to go away and come back, or
//! to answer late: [`Proxy::cut`] drops every connection and refuses new ones until
//! [`Proxy::restore`]; [`Proxy::hold`] keeps the server's replies from reaching clients
//! (the server still gets and runs every command) until [`Proxy::release`].
#![allow(
    clippy::unwrap_used,
    reason = "test support: a poisoned lock is a failed test"
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// A proxy in front of one upstream address.
pub struct Proxy {
    addr: SocketAddr,
    down: Arc<AtomicBool>,
    held: watch::Sender<bool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port, forwarding to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let down = Arc::new(AtomicBool::new(false));
        let (held, _) = watch::channel(false);
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (d, l, h, upstream) = (
            down.clone(),
            links.clone(),
            held.clone(),
            upstream.to_owned(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if d.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let held = h.subscribe();
                let task = tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        link(client, server, held).await;
                    }
                });
                l.lock().unwrap().push(task.abort_handle());
            }
        });
        Ok(Proxy {
            addr,
            down,
            held,
            links,
        })
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every open connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    /// Keeps the server's replies from clients until [`Proxy::release`].
    pub fn hold(&self) {
        self.held.send_replace(true);
    }

    /// Delivers held and later replies.
    pub fn release(&self) {
        self.held.send_replace(false);
    }
}

async fn link(client: TcpStream, server: TcpStream, mut held: watch::Receiver<bool>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async {
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
        let _ = sw.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = sr.read(&mut buf).await {
            if n == 0 || held.wait_for(|h| !*h).await.is_err() {
                break;
            }
            if cw
                .write_all(buf.get(..n).unwrap_or_default())
                .await
                .is_err()
            {
                break;
            }
        }
        let _ = cw.shutdown().await;
    };
    tokio::join!(up, down);
}
