//! TLS to the PostgreSQL queue, with libpq's `sslmode` meanings, so the URL a managed database
//! (RDS, Cloud SQL, Azure, Supabase...) hands out works as it is, `sslmode=verify-full` included.
//!
//! tokio-postgres itself knows only `disable`, `prefer` and `require`, and no `sslrootcert`:
//! this module reads those parameters from the URL, gives tokio-postgres the subset it knows, and
//! builds a rustls client that checks the server's certificate as libpq would:
//!
//! | `sslmode` | TLS | certificate checked |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` (default) | when the server offers it | no (as libpq: encryption, no identity) |
//! | `require` | always | no; against `sslrootcert` when that names a file (as libpq) |
//! | `verify-ca` | always | chain to a trusted root |
//! | `verify-full` | always | chain, and the certificate names the host |
//!
//! Trusted roots: the PEM file `sslrootcert` names, or with `sslrootcert=system` or none, the
//! Mozilla roots (webpki-roots). Errors never repeat the URL (it holds a password).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode` values (but `allow`, which tries an unencrypted connection first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Where the server's certificate must chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCertificates {
    /// The Mozilla roots (`sslrootcert=system`, or no `sslrootcert`).
    System,
    /// A PEM file of one or more certificates (`sslrootcert=/path/ca.pem`).
    File(PathBuf),
}

/// How the queue connects: tokio-postgres's configuration plus the TLS rules it cannot express.
#[derive(Debug, Clone)]
pub struct QueueConnection {
    pub config: tokio_postgres::Config,
    pub ssl_mode: SslMode,
    pub root_certificates: RootCertificates,
}

/// The URL's `sslmode` and `sslrootcert` read, the rest parsed by tokio-postgres. The error names
/// the parameter that is wrong, never the URL.
pub fn parse_queue_url(url: &str) -> Result<QueueConnection, String> {
    let invalid = || "the queue URL is not a valid PostgreSQL URL (postgres://user:password@host:port/database)";
    let mut parsed = url::Url::parse(url).map_err(|_| invalid().to_string())?;
    let mut ssl_mode = SslMode::Prefer;
    let mut root_file: Option<String> = None;
    let mut kept: Vec<(String, String)> = Vec::new();
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "sslmode" => {
                ssl_mode = match value.as_ref() {
                    "disable" => SslMode::Disable,
                    "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    "allow" => {
                        return Err("sslmode=allow is not supported (it tries an unencrypted \
                                    connection first): use prefer, require, verify-ca or \
                                    verify-full"
                            .into());
                    }
                    other => {
                        return Err(format!(
                            "sslmode={other} is not one of disable, prefer, require, verify-ca, \
                             verify-full"
                        ));
                    }
                }
            }
            "sslrootcert" => root_file = Some(value.into_owned()),
            "sslcert" | "sslkey" | "sslpassword" => {
                return Err(format!(
                    "{key} (a client certificate) is not supported: authenticate with a password"
                ));
            }
            // libpq's defaults that tokio-postgres does not parse; they change nothing here.
            "sslcompression" | "sslsni" | "gssencmode" => {}
            _ => kept.push((key.into_owned(), value.into_owned())),
        }
    }
    // tokio-postgres's own mode: it decides whether to ask for TLS; the verifier decides what
    // to accept.
    let negotiated = match ssl_mode {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => "require",
    };
    kept.push(("sslmode".into(), negotiated.into()));
    parsed.query_pairs_mut().clear().extend_pairs(&kept);
    let config = parsed
        .as_str()
        .parse::<tokio_postgres::Config>()
        .map_err(|_| invalid().to_string())?;
    let root_certificates = match root_file.as_deref() {
        None | Some("system") | Some("") => RootCertificates::System,
        Some(path) => RootCertificates::File(PathBuf::from(path)),
    };
    // libpq: `require` with a root certificate file verifies the chain, as `verify-ca` does.
    if ssl_mode == SslMode::Require && matches!(root_certificates, RootCertificates::File(_)) {
        ssl_mode = SslMode::VerifyCa;
    }
    Ok(QueueConnection {
        config,
        ssl_mode,
        root_certificates,
    })
}

impl QueueConnection {
    /// The TLS connector for the pool. Reads the root certificate file, so a missing or empty
    /// file fails here, at start-up, with its path.
    pub fn tls_connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up: {e}"))?;
        // Modes that check no chain never read a root file (libpq ignores it there too).
        let roots = match self.ssl_mode {
            SslMode::VerifyCa | SslMode::VerifyFull => self.root_store()?,
            SslMode::Disable | SslMode::Prefer | SslMode::Require => mozilla_roots(),
        };
        let webpki =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("TLS set-up: {e}"))?;
        let verifier = Arc::new(LibpqVerifier {
            webpki,
            mode: self.ssl_mode,
        });
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }

    fn root_store(&self) -> Result<RootCertStore, String> {
        match &self.root_certificates {
            RootCertificates::System => Ok(mozilla_roots()),
            RootCertificates::File(path) => {
                let shown = path.display();
                let bytes = std::fs::read(path)
                    .map_err(|e| format!("sslrootcert {shown} cannot be read: {e}"))?;
                let mut store = RootCertStore::empty();
                for certificate in CertificateDer::pem_slice_iter(&bytes) {
                    let certificate = certificate
                        .map_err(|e| format!("sslrootcert {shown} is not valid PEM: {e}"))?;
                    store.add(certificate).map_err(|e| {
                        format!("sslrootcert {shown}: a certificate is invalid: {e}")
                    })?;
                }
                if store.is_empty() {
                    return Err(format!("sslrootcert {shown} holds no PEM certificate"));
                }
                Ok(store)
            }
        }
    }
}

fn mozilla_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// The server's certificate checked as `sslmode` says: `verify-full` by webpki as it is;
/// `verify-ca` the same but for the name in the certificate (a database reached through an
/// address its certificate does not list); `prefer` and `require` not at all, as libpq: the
/// connection is encrypted, the server not authenticated. The handshake's signatures are always
/// checked, so the session is keyed to the certificate the server sent.
#[derive(Debug)]
struct LibpqVerifier {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    mode: SslMode,
}

impl ServerCertVerifier for LibpqVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !matches!(self.mode, SslMode::VerifyCa | SslMode::VerifyFull) {
            return Ok(ServerCertVerified::assertion());
        }
        let verified = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verified {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.mode == SslMode::VerifyCa => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
#[path = "postgres_tls_tests.rs"]
mod tests;
