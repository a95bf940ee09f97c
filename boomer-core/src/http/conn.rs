//! Opening a connection: TCP (name resolution included), then TLS with ALPN on https;
//! what each phase took; and errors that name what failed.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::config::Shared;
use super::url::{Scheme, Target};
use super::HttpError;

/// A plain or TLS connection.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A new connection and what it took.
pub(crate) struct Opened {
    pub(crate) stream: Stream,
    /// Name resolution and the TCP handshake.
    pub(crate) connect: Duration,
    /// The TLS handshake (zero on plain http).
    pub(crate) tls: Duration,
    /// The TLS session was resumed (no full handshake).
    pub(crate) resumed: bool,
    /// ALPN chose HTTP/2.
    pub(crate) h2: bool,
}

/// Connects to `target`, with TLS on https.
pub(crate) async fn open(target: &Target, shared: &Shared) -> Result<Opened, HttpError> {
    let start = Instant::now();
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| HttpError::new(super::pyerr::os_error(&e)))?;
    // Requests are small and sent whole: Nagle would only add latency.
    let _ = tcp.set_nodelay(true);
    let connect = start.elapsed();
    if target.scheme == Scheme::Http {
        return Ok(Opened {
            stream: Stream::Tcp(tcp),
            connect,
            tls: Duration::ZERO,
            resumed: false,
            h2: shared.h2_prior_knowledge,
        });
    }
    let config = shared.tls()?;
    let name = ServerName::try_from(target.host.clone())
        .map_err(|_| HttpError::new(format!("invalid TLS server name {:?}", target.host)))?;
    let tls_start = Instant::now();
    let tls = tokio_rustls::TlsConnector::from(Arc::clone(&config))
        .connect(name, tcp)
        .await
        .map_err(|e| tls_error(e, target))?;
    let (_, session) = tls.get_ref();
    let resumed = session.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    let h2 = session.alpn_protocol() == Some(b"h2");
    Ok(Opened {
        stream: Stream::Tls(Box::new(tls)),
        connect,
        tls: tls_start.elapsed(),
        resumed,
        h2,
    })
}

/// A TLS failure in words that say what to do.
fn tls_error(e: io::Error, target: &Target) -> HttpError {
    use rustls::CertificateError as C;
    let host = &target.authority;
    let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        return HttpError::new(format!("TLS handshake with {host} failed: {e}"));
    };
    let why = match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::UnknownIssuer | C::BadSignature => format!(
                "the certificate of {host} is signed by an unknown CA \
                 (trust its CA with --ca-cert FILE, or --insecure for a staging server)"
            ),
            C::Expired | C::ExpiredContext { .. } => {
                format!("the certificate of {host} has expired")
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("the certificate of {host} is not valid yet")
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => format!(
                "the certificate of {host} is not valid for the host name {:?}",
                target.host
            ),
            C::Revoked => format!("the certificate of {host} is revoked"),
            C::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => format!(
                "the certificate of {host} is a CA certificate, not a server's (a self-signed \
                 CA cannot serve as its own server certificate: sign one with it)"
            ),
            other => format!("the certificate of {host} is invalid: {other:?}"),
        },
        rustls::Error::AlertReceived(alert) => {
            format!("{host} refused the TLS handshake ({alert:?}; a client certificate may be needed: --client-cert/--client-key)")
        }
        other => format!("TLS handshake with {host} failed: {other}"),
    };
    HttpError::new(why)
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }
}
