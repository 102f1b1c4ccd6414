//! The accept loop. It serves each connection itself (rather than `axum::serve`) so that an
//! injected fault can close a connection without sending a byte, as a dropped connection does.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use crate::http::ConnectionKill;
use crate::{Config, Emulator};

/// A started emulator. Dropping it does not stop it; call [`RunningEmulator::shutdown`].
pub struct RunningEmulator {
    pub addr: SocketAddr,
    pub emulator: Arc<Emulator>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningEmulator {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }

    /// Waits until the server stops (it runs until shut down).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

pub async fn start(config: Config, addr: SocketAddr) -> std::io::Result<RunningEmulator> {
    // Webhook delivery uses reqwest with rustls; make sure a crypto provider is installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let emulator = Emulator::new(&config, format!("http://{addr}"))?;
    let router = crate::app::router(emulator.clone());
    let (shutdown, mut stop) = watch::channel(false);
    crate::webhooks::spawn_sender(emulator.clone(), stop.clone());
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.changed() => break,
            };
            let Ok((stream, _)) = accepted else { continue };
            let _ = stream.set_nodelay(true);
            let router = router.clone();
            let mut stop = stop.clone();
            tokio::spawn(serve_connection(stream, router, async move {
                let _ = stop.changed().await;
            }));
        }
    });
    Ok(RunningEmulator {
        addr,
        emulator,
        shutdown,
        task,
    })
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: Router,
    stopped: impl std::future::Future<Output = ()>,
) {
    let kill = Arc::new(Notify::new());
    let request_kill = kill.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request
            .extensions_mut()
            .insert(ConnectionKill(request_kill.clone()));
        router.clone().oneshot(request.map(Body::new))
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        _ = kill.notified() => {}
        _ = stopped => {}
    }
}
