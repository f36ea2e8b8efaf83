//! The simulated Redis servers on the wire: one loopback listener per redis-server or
//! redis-sentinel (clients address a server by its port), each connection reading RESP
//! commands and answering through `redis_cmd`. A server the scenario takes down stops
//! listening (connections are refused) and drops its clients; it listens again on the same
//! port when it comes back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::sim::cluster::ClusterShared;
use crate::sim::redis_cmd::{self, Conn, Now};
use crate::sim::resp::{self, Frame, MAX_BULK};

/// The most clients one simulated server holds at once.
const MAX_CLIENTS: usize = 256;
/// The most unparsed input one connection may hold.
const MAX_BUFFER: usize = 2 * MAX_BULK + 4096;

static CLIENT_IDS: AtomicU64 = AtomicU64::new(3);

/// Serves one node until the simulator stops.
pub(crate) async fn serve_node(
    shared: Arc<ClusterShared>,
    node: usize,
    listener: TcpListener,
    mut up: watch::Receiver<bool>,
) {
    let Ok(addr) = listener.local_addr() else {
        return;
    };
    let mut listener = Some(listener);
    let mut stopping = shared.stopping.clone();
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        if *stopping.borrow() {
            return;
        }
        if !*up.borrow() {
            listener = None;
            tokio::select! {
                _ = up.changed() => continue,
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
        let Some(l) = listener.as_ref() else {
            match bind(addr).await {
                Some(l) => listener = Some(l),
                None => tokio::time::sleep(Duration::from_millis(200)).await,
            }
            continue;
        };
        tokio::select! {
            accepted = l.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let permit = Arc::clone(&slots).try_acquire_owned().ok();
                let shared = Arc::clone(&shared);
                let up = up.clone();
                tokio::spawn(async move {
                    if permit.is_none() {
                        refuse(stream).await;
                        return;
                    }
                    connection(shared, node, stream, up).await;
                    drop(permit);
                });
            }
            _ = up.changed() => {}
            _ = stopping.wait_for(|s| *s) => return,
        }
    }
}

async fn bind(addr: SocketAddr) -> Option<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::debug!(%addr, "cannot listen again yet: {e}");
            None
        }
    }
}

async fn refuse(mut stream: TcpStream) {
    let _ = stream
        .write_all(b"-ERR max number of clients reached\r\n")
        .await;
}

async fn connection(
    shared: Arc<ClusterShared>,
    node: usize,
    mut stream: TcpStream,
    mut up: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let id = CLIENT_IDS.fetch_add(1, Ordering::Relaxed);
    let mut conn = {
        let mut world = shared.world_now();
        let password = world
            .redis
            .nodes
            .get(node)
            .and_then(|n| world.redis.groups.get(n.group))
            .and_then(|g| g.password.clone());
        if let Some(n) = world.redis.nodes.get_mut(node) {
            n.open += 1;
            n.connections += 1;
        }
        Conn {
            node,
            id,
            authed: password.is_none(),
            resp3: false,
            db: 0,
            name: None,
        }
    };
    let mut stopping = shared.stopping.clone();
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    'read: loop {
        let n = tokio::select! {
            read = stream.read(&mut chunk) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            changed = up.changed() => {
                if changed.is_err() || !*up.borrow() {
                    break;
                }
                continue;
            }
            _ = stopping.wait_for(|s| *s) => break,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut out = Vec::new();
        loop {
            match resp::parse_command(&mut buf) {
                Ok(Some(args)) if args.is_empty() => {}
                Ok(Some(args)) => {
                    let (reply, close) = run(&shared, &mut conn, &args);
                    reply.encode(conn.resp3, &mut out);
                    if close {
                        let _ = stream.write_all(&out).await;
                        break 'read;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    Frame::error(format!("ERR Protocol error: {}", e.0)).encode(false, &mut out);
                    let _ = stream.write_all(&out).await;
                    break 'read;
                }
            }
        }
        if buf.len() > MAX_BUFFER {
            let _ = stream
                .write_all(b"-ERR Protocol error: request too big\r\n")
                .await;
            break;
        }
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            break;
        }
    }
    let mut world = shared.world_now();
    if let Some(n) = world.redis.nodes.get_mut(node) {
        n.open = n.open.saturating_sub(1);
    }
}

fn run(shared: &ClusterShared, conn: &mut Conn, args: &[Vec<u8>]) -> (Frame, bool) {
    let mut world = shared.world_now();
    let at = shared.clock.elapsed();
    let now = Now {
        at,
        wall: shared.clock.wall(at),
        uptime: 3_456_000 + shared.clock.started.elapsed().as_secs(),
    };
    redis_cmd::execute(&mut world.redis, conn, args, &now)
}
