//! What the stand-in provider APIs (`fake_*.rs`) share: a lock that survives a panicked handler,
//! and their server on a free loopback port.

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::Router;

/// `mutex`'s guard, even after a handler panicked while holding it (a stand-in's state stays
/// readable for the test that made it panic).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Serves `router` on a free loopback port: its address, and the task to abort when the stand-in
/// is dropped. `name` names the stand-in in the log line if the server stops.
pub async fn serve(
    router: Router,
    name: &'static str,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::warn!(%error, "{name} stopped");
        }
    });
    Ok((address, server))
}

/// Serves `routes` over `state`, answering 404 to any other path: [`serve`] for a stand-in whose
/// handlers share one state.
pub async fn serve_routes<S: Clone + Send + Sync + 'static>(
    routes: Router<S>,
    state: S,
    name: &'static str,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let router = routes
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .with_state(state);
    serve(router, name).await
}
