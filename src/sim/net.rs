//! The simulator's listener: a loopback TCP listener that holds at most a fixed number of open
//! connections, so a runaway client cannot exhaust the process, and whose connections a
//! request can reset (an injected "connection reset by peer").

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A listener that waits for a free slot before accepting the next connection.
pub(crate) struct Limited {
    inner: TcpListener,
    slots: Arc<Semaphore>,
}

impl Limited {
    pub(crate) fn new(inner: TcpListener, max_connections: usize) -> Limited {
        Limited {
            inner,
            slots: Arc::new(Semaphore::new(max_connections)),
        }
    }
}

impl axum::serve::Listener for Limited {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        // The semaphore is never closed, so a permit always comes.
        let permit = self.slots.clone().acquire_owned().await.ok();
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        if let Err(e) = stream.set_nodelay(true) {
            tracing::trace!("cannot set TCP_NODELAY: {e}");
        }
        (
            Conn {
                stream,
                reset: Arc::new(AtomicBool::new(false)),
                _permit: permit,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An accepted connection; its slot frees when it is dropped.
pub(crate) struct Conn {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Conn {
    /// After a reset was asked for: the socket set to send RST on close, and the error that
    /// makes the server drop it.
    fn reset_error(&self) -> Option<io::Error> {
        if !self.reset.load(Ordering::Relaxed) {
            return None;
        }
        if let Err(e) = self.stream.set_zero_linger() {
            tracing::trace!("cannot set SO_LINGER: {e}");
        }
        Some(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "reset injected by the scenario",
        ))
    }
}

/// A handle a request holds on its own connection, to reset it.
#[derive(Clone)]
pub(crate) struct Reset(Arc<AtomicBool>);

impl Reset {
    /// Drops the connection, without an answer, the next time the server writes to it.
    pub(crate) fn reset(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Limited>> for Reset {
    fn connect_info(stream: axum::serve::IncomingStream<'_, Limited>) -> Reset {
        Reset(stream.io().reset.clone())
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.reset_error() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.reset_error() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.reset_error() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
