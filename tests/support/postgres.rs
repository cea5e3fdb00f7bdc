//! A throwaway PostgreSQL cluster for tests: `initdb` in a temporary folder, started with
//! `pg_ctl` on a free 127.0.0.1 port (no Unix socket), trust authentication, durability off
//! (a test cluster is never kept). One cluster per test process, started on first use; each test
//! gets its own database. A watcher process stops the cluster and removes its folder when the
//! test process ends, however it ends.
//!
//! PostgreSQL refuses to run as root (CI runs as root): then the server runs as the `postgres`
//! user through `runuser`, in a folder handed to that user. Without PostgreSQL binaries
//! (`/usr/lib/postgresql/<version>/bin`, or `PG_BIN`) tests print "skipped: no PostgreSQL ..."
//! and return. `scripts/test.sh` installs Debian's `postgresql` package when it is missing.
//!
//! Also included by the library's queue tests (`#[path]`), so it uses only std.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A running cluster.
pub struct PostgresCluster {
    bin: PathBuf,
    port: u16,
    /// Owned by the server's user; removed by the watcher.
    dir: PathBuf,
    run_as_postgres: bool,
}

/// The folder of `initdb`, `pg_ctl` and `psql`: `PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn postgres_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        let dir = PathBuf::from(dir);
        return dir.join("pg_ctl").exists().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

impl PostgresCluster {
    /// The process's cluster, started on first use; `None` (after printing why) when this
    /// machine has no PostgreSQL. `test` names the caller in the skip message.
    pub fn shared(test: &str) -> Option<&'static PostgresCluster> {
        static CLUSTER: OnceLock<Option<PostgresCluster>> = OnceLock::new();
        let cluster = CLUSTER.get_or_init(|| postgres_bin().map(|bin| Self::start(bin, None)));
        if cluster.is_none() {
            // Straight to stderr, not `eprintln!`: the test harness captures the latter, and a
            // skip must be seen in a passing run.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr().lock(),
                "skipped: no PostgreSQL (initdb/pg_ctl in /usr/lib/postgresql/<version>/bin or \
                 PG_BIN; scripts/test.sh installs Debian's postgresql): {test}"
            );
        }
        cluster.as_ref()
    }

    /// A cluster of its own that accepts only TLS connections (`hostssl` in `pg_hba.conf`,
    /// plain connections rejected), serving `certificate_pem` with `key_pem`; `None` (after
    /// printing why) without PostgreSQL.
    pub fn start_tls_only(test: &str, certificate_pem: &str, key_pem: &str) -> Option<Self> {
        let Some(bin) = postgres_bin() else {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr().lock(),
                "skipped: no PostgreSQL (initdb/pg_ctl in /usr/lib/postgresql/<version>/bin or \
                 PG_BIN; scripts/test.sh installs Debian's postgresql): {test}"
            );
            return None;
        };
        Some(Self::start(bin, Some((certificate_pem, key_pem))))
    }

    fn command(&self, program: &str) -> Command {
        command_as(&self.bin, program, self.run_as_postgres)
    }

    /// `tls`: the server's certificate and key (PEM); then only TLS connections are accepted.
    fn start(bin: PathBuf, tls: Option<(&str, &str)>) -> Self {
        let run_as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!(
            "deskdraft-pg-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("cluster folder");
        if let Some((certificate_pem, key_pem)) = tls {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(dir.join("server.crt"), certificate_pem).expect("server.crt");
            std::fs::write(dir.join("server.key"), key_pem).expect("server.key");
            // PostgreSQL refuses a key others can read.
            std::fs::set_permissions(
                dir.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .expect("server.key mode");
        }
        if run_as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(
                status.success(),
                "cannot hand {} to postgres",
                dir.display()
            );
        }
        let port = free_port();
        let cluster = Self {
            bin,
            port,
            dir,
            run_as_postgres,
        };
        let data = cluster.dir.join("data");
        let initdb = cluster
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .output()
            .expect("initdb runs");
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        cluster.watch_parent();
        let mut options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        );
        if tls.is_some() {
            let hba = "hostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n";
            std::fs::write(data.join("pg_hba.conf"), hba).expect("pg_hba.conf");
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file='{}' -c ssl_key_file='{}'",
                cluster.dir.join("server.crt").display(),
                cluster.dir.join("server.key").display()
            ));
        }
        let started = cluster
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(cluster.dir.join("server.log"))
            .args(["-w", "-t", "60", "start"])
            .stdout(Stdio::null())
            .output()
            .expect("pg_ctl runs");
        assert!(
            started.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&started.stderr),
            std::fs::read_to_string(cluster.dir.join("server.log")).unwrap_or_default()
        );
        cluster
    }

    /// Stops the cluster and removes its folder once this test process has exited.
    // The watcher must outlive this process (it acts when we are gone), so it is never waited
    // for; it is reparented to init when we exit.
    #[allow(clippy::zombie_processes)]
    fn watch_parent(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = if self.run_as_postgres {
            format!("runuser -u postgres -- {}", pg_ctl.display())
        } else {
            pg_ctl.display().to_string()
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             {stop} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            data = self.dir.join("data").display(),
            dir = self.dir.display(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the cluster's watcher starts");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new empty database; returns its URL.
    pub fn create_database(&self, prefix: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "{}_{}",
            prefix
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
                .to_lowercase(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        self.psql(&format!("CREATE DATABASE {name}"));
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs one SQL command as the superuser on the `postgres` database; panics on failure.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_on("postgres", sql)
    }

    pub fn psql_on(&self, database: &str, sql: &str) -> String {
        let output = command_as(&self.bin, "psql", false)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

fn command_as(bin: &Path, program: &str, run_as_postgres: bool) -> Command {
    if run_as_postgres {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(bin.join(program));
        command
    } else {
        Command::new(bin.join(program))
    }
}
