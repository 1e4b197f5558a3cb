//! The local AWS emulator: moto's standalone server, installed on first use into a project-local
//! venv at a pinned version, started on a free loopback port, and never outliving its parent.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The moto release the project is tested against.
pub const MOTO_VERSION: &str = "5.2.5";

/// Starts `ThreadedMotoServer` and exits when the parent process dies (its parent pid changes),
/// so a killed test binary or CLI never leaves an orphaned emulator behind.
const LAUNCHER: &str = r#"
import functools, os, sys, threading, time
from moto.server import ThreadedMotoServer
from moto.dynamodb.models import DynamoDBBackend
# DynamoDB applies the writes to one item one at a time; moto's threaded server does not, so two
# UpdateItems racing to create an item could both see it absent. One lock over moto's writes.
_writes = threading.RLock()
def _serialized(method):
    @functools.wraps(method)
    def write(*args, **kwargs):
        with _writes:
            return method(*args, **kwargs)
    return write
for _name in ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"):
    setattr(DynamoDBBackend, _name, _serialized(getattr(DynamoDBBackend, _name)))
parent = os.getppid()
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
while os.getppid() == parent:
    time.sleep(0.2)
server.stop()
"#;

/// Where project-local tools live: `CHURNSAVER_TOOLS_DIR`, else `<workspace>/.tools`.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("CHURNSAVER_TOOLS_DIR")
        .map_or_else(|| crate::workspace_root().join(".tools"), PathBuf::from)
}

/// The venv's python, installing moto first if needed. Safe to call from several processes at
/// once: each installs into its own directory and the first to finish is renamed into place.
pub fn ensure_installed(tools: &Path) -> anyhow::Result<PathBuf> {
    let venv = tools.join(format!("moto-{MOTO_VERSION}"));
    let python = venv.join("bin").join("python");
    if venv.join(".installed").exists() {
        return Ok(python);
    }
    std::fs::create_dir_all(tools).with_context(|| format!("creating {}", tools.display()))?;
    let staging = tools.join(format!(
        "moto-{MOTO_VERSION}.{}.partial",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&staging);
    eprintln!(
        "installing moto[server]=={MOTO_VERSION} into {} (first run only)…",
        venv.display()
    );
    let system_python = std::env::var("CHURNSAVER_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    run(Command::new(&system_python)
        .args(["-m", "venv"])
        .arg(&staging))
    .with_context(|| {
        format!("creating a venv with {system_python} (is python3 with venv installed?)")
    })?;
    run(Command::new(staging.join("bin").join("python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(format!("moto[server]=={MOTO_VERSION}")))
    .context("pip install moto[server] (needs access to PyPI)")?;
    std::fs::write(staging.join(".installed"), MOTO_VERSION)?;
    // A venv's python finds its site-packages relative to itself, so the renamed venv works.
    if std::fs::rename(&staging, &venv).is_err() {
        // Another process finished first (or a stale, unmarked venv is in the way).
        if venv.join(".installed").exists() {
            let _ = std::fs::remove_dir_all(&staging);
        } else {
            std::fs::remove_dir_all(&venv)?;
            std::fs::rename(&staging, &venv)?;
        }
    }
    Ok(python)
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command.stdin(Stdio::null()).status()?;
    if !status.success() {
        bail!("{command:?} exited with {status}");
    }
    Ok(())
}

/// A running moto server; stopped (and reaped) on drop.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    pub address: SocketAddr,
}

impl MotoServer {
    /// Installs if needed and starts moto on a free loopback port, waiting until it accepts
    /// connections.
    pub fn start() -> anyhow::Result<Self> {
        let python = ensure_installed(&tools_dir())?;
        // Bind-then-release leaves a tiny window for another process to take the port; the
        // readiness check below would then fail loudly rather than talk to the wrong server.
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(&python)
            .args(["-c", LAUNCHER, &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting moto with {}", python.display()))?;
        let mut server = Self {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        server.wait_until_ready(Duration::from_secs(60))?;
        Ok(server)
    }

    /// The endpoint URL to give the AWS SDK.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_until_ready(&mut self, limit: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                bail!("moto exited during start-up with {status}");
            }
            if TcpStream::connect_timeout(&self.address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "moto did not accept connections on {} within {limit:?}",
            self.address
        )
    }

    /// Stops the server and waits for it to exit.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.stop();
    }
}
