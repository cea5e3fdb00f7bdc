//! `sslmode` and `sslrootcert` read as libpq reads them, and connections to a real PostgreSQL
//! server that accepts only TLS (a throwaway cluster with a certificate from a test CA).

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

use super::*;
use crate::queue::testing::PostgresCluster;
use crate::queue::{JobQueue, postgres};

#[test]
fn libpq_modes_map_to_what_tokio_postgres_negotiates_and_what_the_verifier_checks() {
    let cases = [
        ("", SslMode::Prefer, tokio_postgres::config::SslMode::Prefer),
        (
            "?sslmode=disable",
            SslMode::Disable,
            tokio_postgres::config::SslMode::Disable,
        ),
        (
            "?sslmode=require",
            SslMode::Require,
            tokio_postgres::config::SslMode::Require,
        ),
        (
            "?sslmode=verify-ca",
            SslMode::VerifyCa,
            tokio_postgres::config::SslMode::Require,
        ),
        (
            "?sslmode=verify-full",
            SslMode::VerifyFull,
            tokio_postgres::config::SslMode::Require,
        ),
        // libpq: `require` with a root certificate file checks the chain.
        (
            "?sslmode=require&sslrootcert=/etc/ca.pem",
            SslMode::VerifyCa,
            tokio_postgres::config::SslMode::Require,
        ),
    ];
    for (query, mode, negotiated) in cases {
        let url = format!("postgres://app:s3cret@db.example.com:6543/queue{query}");
        let connection = parse_queue_url(&url).unwrap();
        assert_eq!(connection.ssl_mode, mode, "{query}");
        assert_eq!(connection.config.get_ssl_mode(), negotiated, "{query}");
        // Everything else in the URL still reaches tokio-postgres.
        assert_eq!(connection.config.get_password(), Some(&b"s3cret"[..]));
        assert_eq!(connection.config.get_ports(), &[6543]);
        assert_eq!(connection.config.get_dbname(), Some("queue"));
    }
    let with_file = parse_queue_url(
        "postgres://app@db/queue?sslmode=verify-full&sslrootcert=/etc/ssl/rds.pem&connect_timeout=7",
    )
    .unwrap();
    assert_eq!(
        with_file.root_certificates,
        RootCertificates::File("/etc/ssl/rds.pem".into())
    );
    assert_eq!(
        with_file.config.get_connect_timeout(),
        Some(&std::time::Duration::from_secs(7))
    );
    let system = parse_queue_url("postgres://app@db/queue?sslmode=verify-full&sslrootcert=system");
    assert_eq!(system.unwrap().root_certificates, RootCertificates::System);
}

#[test]
fn unsupported_or_misspelt_tls_parameters_are_named_and_the_url_is_never_repeated() {
    let cases = [
        ("sslmode=verify_full", "sslmode=verify_full is not one of"),
        ("sslmode=allow", "sslmode=allow is not supported"),
        (
            "sslcert=/c.pem&sslkey=/k.pem",
            "sslcert (a client certificate) is not supported",
        ),
        ("sslmode=require&bogus=1", "not a valid PostgreSQL URL"),
    ];
    for (query, expected) in cases {
        let error =
            parse_queue_url(&format!("postgres://app:s3cret@db/queue?{query}")).expect_err(query);
        assert!(error.contains(expected), "{query}: {error}");
        assert!(!error.contains("s3cret"), "{query}: {error}");
    }
}

#[test]
fn a_root_certificate_file_that_is_missing_empty_or_not_pem_fails_before_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let missing = dir.path().join("missing.pem");
    for (path, expected) in [
        (&missing, "cannot be read"),
        (&empty, "holds no PEM certificate"),
    ] {
        let url = format!(
            "postgres://app@db/queue?sslmode=verify-full&sslrootcert={}",
            path.display()
        );
        let error = parse_queue_url(&url)
            .unwrap()
            .tls_connector()
            .err()
            .unwrap();
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains(expected), "{error}");
        // check-config says the same at start-up.
        let checked = crate::config::check_queue_url(&url, "DESKDRAFT_QUEUE_URL").unwrap_err();
        assert!(checked.contains(expected), "{checked}");
    }
    // Without a file, the Mozilla roots are used and nothing is read.
    parse_queue_url("postgres://app@db/queue?sslmode=verify-full")
        .unwrap()
        .tls_connector()
        .unwrap();
}

/// A CA, and a server certificate it signed for the name `localhost` only (not 127.0.0.1).
struct TestPki {
    dir: tempfile::TempDir,
    server_certificate_pem: String,
    server_key_pem: String,
}

impl TestPki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = certificate_authority("deskdraft test CA");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        let stranger = certificate_authority("someone else's CA");
        std::fs::write(dir.path().join("other-ca.pem"), stranger.pem()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        Self {
            dir,
            server_certificate_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn certificate_authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// Connects with `url` and asks the server whether this session is encrypted.
async fn session_is_encrypted(url: &str) -> Result<bool, String> {
    let pool = postgres::pool(&postgres::parse_url(url).map_err(|e| e.to_string())?, 1)
        .map_err(|e| e.to_string())?;
    let client = postgres::connection(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get::<_, bool>(0))
}

fn with_root(url: &str, mode: &str, root: &Path) -> String {
    format!("{url}?sslmode={mode}&sslrootcert={}", root.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_accepts_only_tls_is_reached_and_checked_as_each_sslmode_says() {
    let pki = TestPki::new();
    let test = "tls_only_server";
    let Some(cluster) =
        PostgresCluster::start_tls_only(test, &pki.server_certificate_pem, &pki.server_key_pem)
    else {
        return;
    };
    let by_address = cluster.create_database(test);
    let database = by_address.rsplit('/').next().unwrap().to_string();
    // The name in the certificate, reached at the address the server listens on.
    let by_name = format!(
        "postgres://postgres:s3cret@localhost:{}/{database}?hostaddr=127.0.0.1",
        cluster.port()
    );
    let (ca, other_ca) = (pki.file("ca.pem"), pki.file("other-ca.pem"));

    // No TLS: the server refuses, and says why.
    let refused = session_is_encrypted(&format!("{by_address}?sslmode=disable"))
        .await
        .unwrap_err();
    assert!(refused.contains("no encryption"), "{refused}");
    // The default (prefer) and require encrypt without checking who the server is.
    assert_eq!(session_is_encrypted(&by_address).await, Ok(true));
    assert_eq!(
        session_is_encrypted(&format!("{by_address}?sslmode=require")).await,
        Ok(true)
    );
    // verify-full: the chain and the name.
    assert_eq!(
        session_is_encrypted(&format!(
            "{by_name}&sslmode=verify-full&sslrootcert={}",
            ca.display()
        ))
        .await,
        Ok(true)
    );
    let untrusted = session_is_encrypted(&format!(
        "{by_name}&sslmode=verify-full&sslrootcert={}",
        other_ca.display()
    ))
    .await
    .unwrap_err();
    assert!(untrusted.contains("UnknownIssuer"), "{untrusted}");
    assert!(!untrusted.contains("s3cret"), "{untrusted}");
    // The certificate names localhost, not 127.0.0.1: verify-full refuses the address,
    // verify-ca (the chain only) accepts it, and so does require with a root file (libpq).
    let wrong_name = session_is_encrypted(&with_root(&by_address, "verify-full", &ca))
        .await
        .unwrap_err();
    assert!(wrong_name.contains("not valid for name"), "{wrong_name}");
    assert_eq!(
        session_is_encrypted(&with_root(&by_address, "verify-ca", &ca)).await,
        Ok(true)
    );
    let require_with_other_root =
        session_is_encrypted(&with_root(&by_address, "require", &other_ca))
            .await
            .unwrap_err();
    assert!(
        require_with_other_root.contains("UnknownIssuer"),
        "{require_with_other_root}"
    );

    // The queue itself over verify-full: migrations, a job in and out.
    let url = format!("{by_name}&sslmode=verify-full&sslrootcert={}", ca.display());
    let queue = JobQueue::open_postgres(&url, 3, 2).await.unwrap();
    queue.enqueue(42, "webhook").await.unwrap();
    let job = queue.claim().await.unwrap().expect("the job just enqueued");
    assert_eq!(job.ticket_id, 42);
}
