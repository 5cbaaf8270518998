//! The HTTP/1.1 server under the routers. Every connection must send its request head within
//! `HEADER_READ_TIMEOUT` (the first one and each one after on a kept-alive connection), so idle
//! sockets cannot pile up; the connections served at once are capped, overall and per client.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use super::client_ip;
use super::guard::limit_key;

/// Long enough for a slow phone link to send a few headers, short enough that a socket which
/// sends nothing is gone quickly.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an answer may wait on a client that does not read it.
const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long requests in progress may take to finish once the daemon is told to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Caps {
    pub connections: usize,
    pub per_client: usize,
    /// Proxies carry many clients on one address: they are not held to `per_client`.
    pub trusted: Vec<IpNet>,
}

/// Serves `router` on `listener` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    caps: Caps,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(caps.connections));
    let clients = Arc::new(Mutex::new(HashMap::new()));
    let graceful = GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = stopped(&mut stop) => break,
        };
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: wait a moment
                    // rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let Some(client_slot) = ClientSlot::take(&clients, peer.ip(), &caps) else {
            tracing::debug!(peer = %peer.ip(), "too many connections from one client");
            continue;
        };
        let _ = socket.set_nodelay(true);
        let service =
            router
                .clone()
                .map_request(move |mut request: axum::http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .keep_alive(true)
            .serve_connection(TokioIo::new(super::stall::StalledWrites::new(socket, WRITE_STALL_TIMEOUT)), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop((slot, client_slot));
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the shutdown grace period were cut off");
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            // The sender is gone: nobody can ask us to stop, so serve on.
            std::future::pending::<()>().await;
        }
    }
}

/// One client's share of the connections; given back when dropped.
struct ClientSlot {
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
    key: Option<IpAddr>,
}

impl ClientSlot {
    fn take(
        clients: &Arc<Mutex<HashMap<IpAddr, usize>>>,
        peer: IpAddr,
        caps: &Caps,
    ) -> Option<Self> {
        if client_ip::is_trusted(peer, &caps.trusted) {
            return Some(Self {
                clients: clients.clone(),
                key: None,
            });
        }
        let key = limit_key(peer);
        let mut open = clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= caps.per_client {
            return None;
        }
        *count += 1;
        Some(Self {
            clients: clients.clone(),
            key: Some(key),
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut open = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&key);
            }
        }
    }
}
