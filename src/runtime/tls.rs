//! TLS through rustls: the settings read from PEM files when the options are set, the rustls
//! client configuration built once per distinct settings, and the verifier that adds the
//! application's own check after the built-in ones. Without the `tls` feature only the settings
//! types remain, and loading them says the library was built without TLS.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{ErrorKind, Result, err};

/// The application's last word on a server certificate: sees the certificate (DER) and the host
/// name it was checked against, after the built-in checks passed; false refuses the link.
pub type VerifyFn = dyn Fn(&[u8], &str) -> bool + Send + Sync;

/// TLS settings that hold for the whole host list (the files are per host).
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// The files for hosts added without their own (`Options::host`); `None`: those hosts are plain.
    pub default: Option<TlsFiles>,
    /// The name checked against the certificate and sent as SNI, instead of each host's.
    pub server_name: Option<String>,
    /// Checks every server certificate after the built-in checks.
    pub verify: Option<Arc<VerifyFn>>,
    /// Accept any server certificate (a warning is printed on every connect).
    pub dangerous_no_verify: bool,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("default", &self.default)
            .field("server_name", &self.server_name)
            .field("verify", &self.verify.is_some())
            .field("dangerous_no_verify", &self.dangerous_no_verify)
            .finish()
    }
}

/// The trust anchors and client identity of TLS hosts, read and checked when set: a missing,
/// unreadable or malformed file is reported then, by name, not at the first connect.
#[derive(Clone)]
pub struct TlsFiles {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    #[cfg(feature = "tls")]
    loaded: Arc<imp::Loaded>,
}

impl fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsFiles")
            .field("ca_file", &self.ca_file)
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish()
    }
}

impl PartialEq for TlsFiles {
    fn eq(&self, other: &TlsFiles) -> bool {
        (&self.ca_file, &self.cert_file, &self.key_file)
            == (&other.ca_file, &other.cert_file, &other.key_file)
    }
}

impl Eq for TlsFiles {}

impl TlsFiles {
    /// Reads the files: `ca_file` (PEM certificates; `None`: the system's trust store), and the
    /// client's certificate chain and key (PEM; both or neither).
    pub fn load(
        ca_file: Option<&Path>,
        cert_file: Option<&Path>,
        key_file: Option<&Path>,
    ) -> Result<TlsFiles> {
        if cert_file.is_some() != key_file.is_some() {
            return err(
                ErrorKind::InvalidArgument,
                "a client certificate needs its key, and a key its certificate: give both or neither",
            );
        }
        #[cfg(feature = "tls")]
        {
            Ok(TlsFiles {
                loaded: Arc::new(imp::Loaded::read(ca_file, cert_file, key_file)?),
                ca_file: ca_file.map(Path::to_owned),
                cert_file: cert_file.map(Path::to_owned),
                key_file: key_file.map(Path::to_owned),
            })
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = ca_file;
            err(
                ErrorKind::Unsupported,
                "this libstomp was built without TLS (cargo feature `tls`, CMake option STOMP_TLS)",
            )
        }
    }

    /// Whether two settings are the very same load (so one client configuration serves both).
    pub fn same(&self, other: &TlsFiles) -> bool {
        #[cfg(feature = "tls")]
        {
            Arc::ptr_eq(&self.loaded, &other.loaded)
        }
        #[cfg(not(feature = "tls"))]
        {
            self == other
        }
    }
}

/// The protocol version ("TLSv1.3", "TLSv1.2") and cipher suite (IANA name) of a TLS link, as C
/// strings (the C API hands them out as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsSessionInfo {
    pub version: &'static std::ffi::CStr,
    pub cipher_suite: &'static std::ffi::CStr,
}

#[cfg(feature = "tls")]
pub use imp::*;

/// Without TLS there are no TLS hosts: no `TlsFiles` can be made.
#[cfg(not(feature = "tls"))]
pub type TlsTarget = std::convert::Infallible;

#[cfg(not(feature = "tls"))]
pub fn targets(
    hosts: &[crate::options::HostSpec],
    _o: &TlsOptions,
) -> Result<Vec<Option<TlsTarget>>> {
    Ok(hosts.iter().map(|_| None).collect())
}

#[cfg(feature = "tls")]
mod imp {
    use std::io;
    use std::path::Path;
    use std::sync::{Arc, OnceLock};

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::{ClientConfig, WebPkiServerVerifier};
    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
    use rustls::{
        AlertDescription, CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme,
    };

    use super::{TlsFiles, TlsOptions, TlsSessionInfo, VerifyFn};
    use crate::error::{Error, ErrorKind, Result};

    /// What the files held.
    pub(super) struct Loaded {
        roots: Arc<RootCertStore>,
        client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    }

    fn file_error(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
        Error::new(
            ErrorKind::TlsFile,
            format!("TLS {} file {}: {}", what, path.display(), e),
        )
    }

    fn read_certs(what: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
        // Read first, so that a missing or unreadable file says so rather than "no certificate".
        let pem = std::fs::read(path).map_err(|e| file_error(what, path, e))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| file_error(what, path, format!("malformed PEM: {}", e)))?;
        if certs.is_empty() {
            return Err(file_error(what, path, "no PEM certificate in it"));
        }
        Ok(certs)
    }

    /// The system's trust anchors (`/etc/ssl/certs` and the like), read once per process.
    fn system_roots() -> Result<Arc<RootCertStore>> {
        static ROOTS: OnceLock<std::result::Result<Arc<RootCertStore>, String>> = OnceLock::new();
        ROOTS
            .get_or_init(|| {
                let found = rustls_native_certs::load_native_certs();
                let mut store = RootCertStore::empty();
                let (added, _ignored) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    let why = found
                        .errors
                        .first()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "no certificate found".into());
                    return Err(format!(
                        "the system trust store is empty or unreadable ({}): give a CA file",
                        why
                    ));
                }
                Ok(Arc::new(store))
            })
            .clone()
            .map_err(|m| Error::new(ErrorKind::TlsFile, m))
    }

    impl Loaded {
        pub(super) fn read(
            ca_file: Option<&Path>,
            cert_file: Option<&Path>,
            key_file: Option<&Path>,
        ) -> Result<Loaded> {
            let roots = match ca_file {
                None => system_roots()?,
                Some(path) => {
                    let mut store = RootCertStore::empty();
                    for c in read_certs("CA", path)? {
                        store
                            .add(c)
                            .map_err(|e| file_error("CA", path, format!("unusable CA: {}", e)))?;
                    }
                    Arc::new(store)
                }
            };
            let client = match (cert_file, key_file) {
                (Some(cert), Some(key)) => {
                    let chain = read_certs("client certificate", cert)?;
                    let pem = std::fs::read(key).map_err(|e| file_error("key", key, e))?;
                    let k = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
                        file_error("key", key, format!("no usable PEM private key: {}", e))
                    })?;
                    Some((chain, k))
                }
                _ => None,
            };
            let loaded = Loaded { roots, client };
            // Builds a configuration now, so that a key that does not match its certificate (or
            // that rustls cannot use) is reported with the files, not at the first connect.
            client_config(&loaded, None, false).map_err(|e| match (cert_file, key_file) {
                (Some(c), Some(k)) => Error::new(
                    ErrorKind::TlsFile,
                    format!(
                        "TLS client certificate {} and key {}: {}",
                        c.display(),
                        k.display(),
                        e.message
                    ),
                ),
                _ => e,
            })?;
            Ok(loaded)
        }
    }

    fn provider() -> Arc<CryptoProvider> {
        static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
        PROVIDER
            .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
            .clone()
    }

    fn client_config(
        loaded: &Loaded,
        verify: Option<Arc<VerifyFn>>,
        dangerous: bool,
    ) -> Result<Arc<ClientConfig>> {
        let config_error = |e: rustls::Error| Error::new(ErrorKind::TlsFile, e.to_string());
        let webpki = WebPkiServerVerifier::builder_with_provider(loaded.roots.clone(), provider())
            .build()
            .map_err(|e| Error::new(ErrorKind::TlsFile, format!("trust anchors: {}", e)))?;
        let verifier = Arc::new(Verifier {
            webpki,
            verify,
            dangerous,
        });
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(config_error)?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &loaded.client {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(config_error)?,
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }

    /// The built-in checks (chain to a trust anchor, validity dates, host name), then the
    /// application's; or, only when asked by the loudly named option, none.
    struct Verifier {
        webpki: Arc<WebPkiServerVerifier>,
        verify: Option<Arc<VerifyFn>>,
        dangerous: bool,
    }

    impl std::fmt::Debug for Verifier {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Verifier")
                .field("dangerous", &self.dangerous)
                .finish()
        }
    }

    impl ServerCertVerifier for Verifier {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: UnixTime,
        ) -> std::result::Result<ServerCertVerified, rustls::Error> {
            if !self.dangerous {
                self.webpki.verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    now,
                )?;
            }
            if let Some(f) = &self.verify {
                let host = server_name.to_str();
                let accepted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    f(end_entity.as_ref(), &host)
                }))
                .unwrap_or(false);
                if !accepted {
                    return Err(rustls::Error::InvalidCertificate(
                        CertificateError::ApplicationVerificationFailure,
                    ));
                }
            }
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            self.webpki.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            self.webpki.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.webpki.supported_verify_schemes()
        }
    }

    /// What a host of the list needs to start TLS: built once per connection object, shared by
    /// every connect to that host.
    #[derive(Clone)]
    pub struct TlsTarget {
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
        dangerous: bool,
    }

    /// The TLS target of each host of the list (`None`: plain TCP), one client configuration per
    /// distinct `TlsFiles`.
    pub fn targets(
        hosts: &[crate::options::HostSpec],
        o: &TlsOptions,
    ) -> Result<Vec<Option<TlsTarget>>> {
        let mut built: Vec<(TlsFiles, Arc<ClientConfig>)> = Vec::new();
        let mut out = Vec::with_capacity(hosts.len());
        for h in hosts {
            let Some(files) = h.tls.as_ref().or(o.default.as_ref()) else {
                out.push(None);
                continue;
            };
            let config = match built.iter().find(|(f, _)| f.same(files)) {
                Some((_, c)) => c.clone(),
                None => {
                    let c = client_config(&files.loaded, o.verify.clone(), o.dangerous_no_verify)?;
                    built.push((files.clone(), c.clone()));
                    c
                }
            };
            let name = o.server_name.as_deref().unwrap_or(&h.host);
            let bare = name
                .strip_prefix('[')
                .and_then(|n| n.strip_suffix(']'))
                .unwrap_or(name);
            let name = ServerName::try_from(bare.to_owned()).map_err(|_| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("{} is not a host name or address TLS can check", name),
                )
            })?;
            out.push(Some(TlsTarget {
                config,
                name,
                dangerous: o.dangerous_no_verify,
            }));
        }
        Ok(out)
    }

    /// A TLS link over a non-blocking TCP stream: rustls's state machine driven by the I/O loop's
    /// readiness events, with no thread of its own.
    pub struct TlsStream {
        tcp: mio::net::TcpStream,
        tls: rustls::ClientConnection,
        /// The TCP stream ended (rustls has been told).
        eof: bool,
        /// A failure of `advance_handshake`, for the next `read` to report.
        failed: Option<io::Error>,
        /// The name checked, for messages.
        name: String,
        /// Some bytes came from the broker.
        heard: bool,
    }

    /// The TCP stream as rustls writes to it: one `send` per record, which never raises SIGPIPE
    /// (std sends with MSG_NOSIGNAL), where its vectored write is a plain `writev` that would kill
    /// a C program that left SIGPIPE at its default when the broker has gone.
    struct NoSigpipe<'a>(&'a mio::net::TcpStream);

    impl io::Write for NoSigpipe<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            io::Write::write(&mut &*self.0, buf)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A TLS failure carried through `io::Error` to the loop, which gives it its own kind.
    #[derive(Debug)]
    pub struct TlsFailure(pub Error);

    impl std::fmt::Display for TlsFailure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}", self.0.message)
        }
    }

    impl std::error::Error for TlsFailure {}

    impl TlsStream {
        /// Starts the TLS handshake on a connected TCP stream (the ClientHello is queued; the loop
        /// writes it with the CONNECT frame behind it).
        pub fn start(tcp: mio::net::TcpStream, t: &TlsTarget, label: &str) -> Result<TlsStream> {
            if t.dangerous {
                eprintln!(
                    "libstomp: WARNING: TLS certificate verification is OFF for {} \
                     (stomp_options_set_tls_dangerous_no_verify): anyone on the path can read \
                     and change this connection",
                    label
                );
            }
            let tls = rustls::ClientConnection::new(t.config.clone(), t.name.clone())
                .map_err(|e| Error::new(ErrorKind::TlsHandshake, e.to_string()))?;
            Ok(TlsStream {
                tcp,
                tls,
                eof: false,
                failed: None,
                name: t.name.to_str().into_owned(),
                heard: false,
            })
        }

        pub fn tcp(&self) -> &mio::net::TcpStream {
            &self.tcp
        }

        pub fn tcp_mut(&mut self) -> &mut mio::net::TcpStream {
            &mut self.tcp
        }

        pub fn session_info(&self) -> Option<TlsSessionInfo> {
            use rustls::CipherSuite as S;
            let version = match self.tls.protocol_version()? {
                rustls::ProtocolVersion::TLSv1_3 => c"TLSv1.3",
                rustls::ProtocolVersion::TLSv1_2 => c"TLSv1.2",
                _ => c"TLS",
            };
            // The suites of rustls's ring provider.
            let cipher_suite = match self.tls.negotiated_cipher_suite()?.suite() {
                S::TLS13_AES_256_GCM_SHA384 => c"TLS13_AES_256_GCM_SHA384",
                S::TLS13_AES_128_GCM_SHA256 => c"TLS13_AES_128_GCM_SHA256",
                S::TLS13_CHACHA20_POLY1305_SHA256 => c"TLS13_CHACHA20_POLY1305_SHA256",
                S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => {
                    c"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
                }
                S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => {
                    c"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
                }
                S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
                    c"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
                }
                S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => {
                    c"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
                }
                S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => {
                    c"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
                }
                S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => {
                    c"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
                }
                _ => c"unknown",
            };
            Some(TlsSessionInfo {
                version,
                cipher_suite,
            })
        }

        /// Runs the TLS handshake as far as the bytes at hand go. The loop calls it before taking
        /// the connection's lock, so the certificate checks, the application's callback among
        /// them, run with no lock held. A failure waits for the next `read`, which reports it.
        pub fn advance_handshake(&mut self) {
            while self.tls.is_handshaking() && self.failed.is_none() && !self.eof {
                match self.tls.read_tls(&mut self.tcp) {
                    Ok(0) => self.eof = true,
                    Ok(_) => self.heard = true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) => {
                        self.failed = Some(e);
                        return;
                    }
                }
                if let Err(e) = self.tls.process_new_packets() {
                    self.failed = Some(self.failure(e));
                    return;
                }
                if let Err(e) = self.flush_some() {
                    self.failed = Some(e);
                    return;
                }
            }
        }

        /// Writes the TLS records rustls has queued; `WouldBlock` when the socket is full.
        pub fn flush_records(&mut self) -> io::Result<()> {
            while self.tls.wants_write() {
                match self.tls.write_tls(&mut NoSigpipe(&self.tcp)) {
                    Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "socket closed")),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }

        /// `flush_records`, where a full socket is fine (the rest goes on the next writable event).
        fn flush_some(&mut self) -> io::Result<()> {
            match self.flush_records() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                r => r,
            }
        }

        fn failure(&mut self, e: rustls::Error) -> io::Error {
            // Tell the broker why (the alert rustls queued), as far as the socket takes it.
            let _ = self.flush_some();
            let host = self.peer_name();
            io::Error::other(TlsFailure(describe(e, &host)))
        }

        /// Tells the broker the link ends here (close_notify), as far as the socket takes it now.
        pub fn close(&mut self) {
            self.tls.send_close_notify();
            let _ = self.flush_records();
        }

        /// The TLS handshake got no byte from the broker (yet).
        pub fn unanswered(&self) -> bool {
            self.tls.is_handshaking() && !self.heard
        }

        /// The broker ended the link: the end of the stream once TLS is up; a failure during the
        /// handshake (silence until then is a plain STOMP port that gave up on our ClientHello).
        fn ended(&self) -> io::Result<usize> {
            if !self.tls.is_handshaking() {
                return Ok(0);
            }
            let (kind, why) = if self.heard {
                (
                    ErrorKind::TlsHandshake,
                    "the broker closed the link during the TLS handshake",
                )
            } else {
                (
                    ErrorKind::TlsMismatch,
                    "the broker closed the link without a TLS answer: is this a plain STOMP port?",
                )
            };
            Err(io::Error::other(TlsFailure(Error::new(
                kind,
                format!("TLS with {}: {}", self.name, why),
            ))))
        }

        fn peer_name(&self) -> String {
            self.name.clone()
        }
    }

    impl io::Read for TlsStream {
        /// Decrypted bytes; `Ok(0)` when the broker ended the link (with or without close_notify:
        /// STOMP frames carry their own ends, so a truncation is seen by the decoder).
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if let Some(e) = self.failed.take() {
                return Err(e);
            }
            loop {
                match self.tls.reader().read(buf) {
                    Ok(0) => return self.ended(),
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return self.ended(),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                if self.eof {
                    return self.ended();
                }
                if self.tls.is_handshaking() {
                    // Handshake records are `advance_handshake`'s, outside the lock: it read the
                    // socket dry, so whatever comes next brings a new readiness event.
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                match self.tls.read_tls(&mut self.tcp) {
                    Ok(0) => self.eof = true,
                    Ok(_) => self.heard = true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
                if let Err(e) = self.tls.process_new_packets() {
                    return Err(self.failure(e));
                }
                // Handshake replies, key updates: out as soon as they are made.
                self.flush_some()?;
            }
        }
    }

    impl io::Write for TlsStream {
        /// Takes plaintext while rustls's record buffer has room, sending what the socket takes;
        /// `WouldBlock` once neither has room (a writable event brings the loop back).
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.flush_some()?;
            let n = self.tls.writer().write(buf)?;
            self.flush_some()?;
            if n == 0 && !buf.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            self.flush_records()
        }
    }

    /// A rustls failure as the crate's error: one kind per way a caller would act.
    fn describe(e: rustls::Error, host: &str) -> Error {
        use rustls::Error as E;
        let (kind, why) = match &e {
            E::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer | CertificateError::BadSignature => (
                    ErrorKind::TlsUntrusted,
                    "its certificate is not signed by a trusted CA (check the CA file)".to_owned(),
                ),
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => (
                    ErrorKind::TlsHostname,
                    format!(
                        "its certificate is not valid for the name {} ({}); \
                         stomp_options_set_tls_server_name sets the name to check",
                        host, e
                    ),
                ),
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => (
                    ErrorKind::TlsExpired,
                    format!("its certificate is out of its validity dates ({})", e),
                ),
                CertificateError::ApplicationVerificationFailure => (
                    ErrorKind::TlsUntrusted,
                    "the application's verification callback refused its certificate".to_owned(),
                ),
                _ => (ErrorKind::TlsUntrusted, e.to_string()),
            },
            E::AlertReceived(
                AlertDescription::BadCertificate
                | AlertDescription::CertificateRequired
                | AlertDescription::UnknownCA
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateUnknown
                | AlertDescription::CertificateRevoked
                | AlertDescription::CertificateExpired
                | AlertDescription::AccessDenied,
            ) => (
                ErrorKind::TlsClientCertRefused,
                format!("it refused our client certificate, or wants one ({})", e),
            ),
            E::InvalidMessage(_) => (
                ErrorKind::TlsMismatch,
                "it does not answer in TLS: is this a plain STOMP port?".to_owned(),
            ),
            _ => (ErrorKind::TlsHandshake, e.to_string()),
        };
        Error::new(kind, format!("TLS with {}: {}", host, why))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn failures_get_their_kinds() {
            let k = |e| describe(e, "h").kind;
            use rustls::Error as E;
            assert_eq!(
                k(E::InvalidCertificate(CertificateError::UnknownIssuer)),
                ErrorKind::TlsUntrusted
            );
            assert_eq!(
                k(E::InvalidCertificate(CertificateError::NotValidForName)),
                ErrorKind::TlsHostname
            );
            assert_eq!(
                k(E::InvalidCertificate(CertificateError::Expired)),
                ErrorKind::TlsExpired
            );
            assert_eq!(
                k(E::AlertReceived(AlertDescription::CertificateRequired)),
                ErrorKind::TlsClientCertRefused
            );
            assert_eq!(k(E::DecryptError), ErrorKind::TlsHandshake);
        }
    }
}
