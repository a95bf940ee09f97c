//! What every user's client shares: TLS roots and client certificates, the protocols to
//! offer. Set once at start-up from the command line (`--ca-cert`, `--insecure`, ...) and
//! the builder ([`crate::Builder::http_config`]); each user's client holds an `Arc` of it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once, OnceLock, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::HttpError;

/// How every user's HTTP client connects: extra CAs, a client certificate, verification,
/// HTTP/2. The command line sets the same things on every `boomer::main!()` binary
/// (`--ca-cert`, `--client-cert`/`--client-key`, `--insecure`, `--http1-only`,
/// `--http2-prior-knowledge`); what the builder sets is added to them.
///
/// ```no_run
/// use boomer_core::http::HttpConfig;
///
/// let config = HttpConfig::new()
///     .ca_cert_file("certs/internal-ca.pem")          // trusted besides the system's CAs
///     .client_cert_files("certs/me.pem", "certs/me.key"); // mTLS
/// # let _ = config;
/// ```
#[derive(Clone, Default)]
pub struct HttpConfig {
    ca_pems: Vec<Source>,
    client_cert: Option<(Source, Source)>,
    insecure: bool,
    http1_only: bool,
    h2_prior_knowledge: bool,
}

/// PEM text, given as is or as a file to read at start-up.
#[derive(Clone)]
enum Source {
    File(PathBuf),
    Pem(Vec<u8>),
}

impl Source {
    fn read(&self) -> Result<Vec<u8>, HttpError> {
        match self {
            Source::File(path) => std::fs::read(path)
                .map_err(|e| HttpError::new(format!("cannot read {}: {e}", path.display()))),
            Source::Pem(pem) => Ok(pem.clone()),
        }
    }

    fn name(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::Pem(_) => "the PEM given in code".into(),
        }
    }
}

impl HttpConfig {
    /// The defaults: the system's CAs, HTTP/2 offered on https, no client certificate.
    pub fn new() -> Self {
        HttpConfig::default()
    }

    /// Trusts the CA certificates of this PEM file too (an internal CA).
    pub fn ca_cert_file(mut self, path: impl AsRef<Path>) -> Self {
        self.ca_pems.push(Source::File(path.as_ref().to_path_buf()));
        self
    }

    /// Trusts the CA certificates of this PEM text too.
    pub fn ca_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pems.push(Source::Pem(pem.into()));
        self
    }

    /// Presents this certificate chain and key (PEM files) to servers that ask (mTLS).
    pub fn client_cert_files(mut self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        let (cert, key) = (cert.as_ref().to_path_buf(), key.as_ref().to_path_buf());
        self.client_cert = Some((Source::File(cert), Source::File(key)));
        self
    }

    /// Presents this certificate chain and key (PEM text) to servers that ask (mTLS).
    pub fn client_cert_pem(mut self, cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.client_cert = Some((Source::Pem(cert.into()), Source::Pem(key.into())));
        self
    }

    /// Accepts any server certificate, as `requests`' `verify=False`: for staging servers
    /// only (a warning is logged once).
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Offers only HTTP/1.1 on https (HTTP/2 is offered by ALPN otherwise).
    pub fn http1_only(mut self, only: bool) -> Self {
        self.http1_only = only;
        self
    }

    /// Speaks HTTP/2 on plain `http://` URLs without asking (h2c with prior knowledge).
    pub fn http2_prior_knowledge(mut self, on: bool) -> Self {
        self.h2_prior_knowledge = on;
        self
    }

    /// This configuration with `other`'s settings added (CAs of both; `other`'s client
    /// certificate if it has one; either's switches).
    pub(crate) fn merged(mut self, other: HttpConfig) -> Self {
        self.ca_pems.extend(other.ca_pems);
        self.client_cert = other.client_cert.or(self.client_cert);
        self.insecure |= other.insecure;
        self.http1_only |= other.http1_only;
        self.h2_prior_knowledge |= other.h2_prior_knowledge;
        self
    }

    /// Reads every file and builds the TLS configurations: a missing or malformed file is
    /// an error at start-up, not a failure of every request.
    pub(crate) fn build(&self) -> Result<Shared, HttpError> {
        let mut extra = Vec::new();
        for source in &self.ca_pems {
            let pem = source.read()?;
            let certs = certs_of(&pem, &source.name())?;
            extra.extend(certs);
        }
        let client = match &self.client_cert {
            Some((cert, key)) => {
                let chain = certs_of(&cert.read()?, &cert.name())?;
                let key = PrivateKeyDer::from_pem_slice(&key.read()?).map_err(|e| {
                    HttpError::new(format!("no private key in {}: {e}", key.name()))
                })?;
                Some((chain, key))
            }
            None => None,
        };
        if self.insecure {
            static WARNED: Once = Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "--insecure: server certificates are not verified (for staging servers only)"
                )
            });
        }
        Ok(Shared {
            extra_roots: extra,
            client,
            insecure: self.insecure,
            http1_only: self.http1_only,
            h2_prior_knowledge: self.h2_prior_knowledge,
            tls: OnceLock::new(),
        })
    }
}

fn certs_of(pem: &[u8], name: &str) -> Result<Vec<CertificateDer<'static>>, HttpError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| HttpError::new(format!("invalid PEM in {name}: {e}")))?;
    if certs.is_empty() {
        return Err(HttpError::new(format!("no certificate in {name}")));
    }
    Ok(certs)
}

/// The built configuration every user's client holds.
pub(crate) struct Shared {
    extra_roots: Vec<CertificateDer<'static>>,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    insecure: bool,
    pub(crate) http1_only: bool,
    pub(crate) h2_prior_knowledge: bool,
    /// Built on the first https connection (the system's roots take milliseconds to load),
    /// then shared, with its TLS session cache: a reconnect resumes the session.
    tls: OnceLock<Result<Arc<ClientConfig>, HttpError>>,
}

static GLOBAL: RwLock<Option<Arc<Shared>>> = RwLock::new(None);

impl Shared {
    /// What `HttpConfig::default()` builds: no file to read, so it cannot fail.
    fn plain() -> Shared {
        Shared {
            extra_roots: Vec::new(),
            client: None,
            insecure: false,
            http1_only: false,
            h2_prior_knowledge: false,
            tls: OnceLock::new(),
        }
    }

    /// The configuration of this process's clients.
    pub(crate) fn global() -> Arc<Shared> {
        let current = GLOBAL
            .read()
            .map(|g| g.clone())
            .unwrap_or_else(|e| e.into_inner().clone());
        match current {
            Some(shared) => shared,
            None => {
                let shared = Arc::new(Shared::plain());
                install(shared.clone());
                shared
            }
        }
    }

    /// The rustls configuration, built once.
    pub(crate) fn tls(&self) -> Result<Arc<ClientConfig>, HttpError> {
        self.tls
            .get_or_init(|| self.build_tls().map(Arc::new))
            .clone()
    }

    fn build_tls(&self) -> Result<ClientConfig, HttpError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| HttpError::new(format!("TLS set-up: {e}")))?;
        let builder = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        } else {
            builder.with_root_certificates(self.roots())
        };
        let mut config = match &self.client {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| HttpError::new(format!("client certificate: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = if self.http1_only {
            vec![b"http/1.1".to_vec()]
        } else {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        };
        Ok(config)
    }

    /// The system's CAs (Debian's ca-certificates, `SSL_CERT_FILE`/`SSL_CERT_DIR` as
    /// OpenSSL reads them) and the extra ones.
    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        if let Some(e) = native.errors.first() {
            tracing::debug!("some system CA certificates could not be loaded: {e}");
        }
        let (added, _) = roots.add_parsable_certificates(native.certs);
        if added == 0 && self.extra_roots.is_empty() {
            tracing::warn!("no system CA certificates found: https servers cannot be verified");
        }
        roots.add_parsable_certificates(self.extra_roots.iter().cloned());
        roots
    }
}

/// Makes `shared` the configuration of every client made from now on.
pub(crate) fn install(shared: Arc<Shared>) {
    match GLOBAL.write() {
        Ok(mut g) => *g = Some(shared),
        Err(e) => *e.into_inner() = Some(shared),
    }
}

/// `--insecure`: any certificate is accepted, but the handshake's signatures are still
/// checked (a broken handshake still fails).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The command-line flags of every `boomer::main!()` binary for `boomer::http`.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "HTTP")]
pub struct HttpOptions {
    /// Trust the CA certificates in this PEM file too (repeatable), besides the system's.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,

    /// Present this client certificate chain (PEM) to servers that ask (mTLS); needs
    /// --client-key.
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,

    /// The private key (PEM) of --client-cert.
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,

    /// Do not verify server certificates (as requests' verify=False): staging only.
    #[arg(long)]
    pub insecure: bool,

    /// Offer only HTTP/1.1 on https (HTTP/2 is negotiated by ALPN otherwise).
    #[arg(long)]
    pub http1_only: bool,

    /// Speak HTTP/2 on http:// URLs without asking (h2c with prior knowledge).
    #[arg(long)]
    pub http2_prior_knowledge: bool,
}

impl HttpOptions {
    /// The configuration these flags ask for.
    pub(crate) fn config(&self) -> HttpConfig {
        let mut config = HttpConfig::new()
            .insecure(self.insecure)
            .http1_only(self.http1_only)
            .http2_prior_knowledge(self.http2_prior_knowledge);
        for path in &self.ca_cert {
            config = config.ca_cert_file(path);
        }
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            config = config.client_cert_files(cert, key);
        }
        config
    }
}
