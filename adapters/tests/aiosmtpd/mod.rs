//! A real SMTP server for tests: Python's aiosmtpd on a loopback port, storing every mail it
//! accepts in `<dir>/maildir`. Shared by the adapters' notifier tests and the binary's
//! status page tests (`#[path]`); `.ci/run` installs aiosmtpd.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;

/// Starts aiosmtpd with `handler` (a `module.Class`, found on `python_path` if given) and
/// waits until it greets; returns the process (killed when dropped) and its port.
pub async fn start(
    dir: &Path,
    handler: &str,
    python_path: Option<&Path>,
) -> (tokio::process::Child, u16) {
    // aiosmtpd does not report a port it picked itself, so take one the OS just freed.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.local_addr().expect("bound address").port()
    };
    let mut command = tokio::process::Command::new("python3");
    command
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", handler])
        .arg(dir.join("maildir"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(path) = python_path {
        command.env("PYTHONPATH", path);
    }
    let mut child = command.spawn().expect("python3 runs");
    // Ready when it greets: a 220 banner proves it is this SMTP server on the port.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("child status") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = tokio::io::AsyncReadExt::read_to_string(&mut pipe, &mut stderr).await;
            }
            panic!(
                "aiosmtpd exited ({status}) before accepting connections; is it installed \
                 (`python3 -m pip install aiosmtpd==1.4.6`)?\n{stderr}"
            );
        }
        if let Ok(stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let mut banner = String::new();
            let mut reader = tokio::io::BufReader::new(stream);
            if reader.read_line(&mut banner).await.is_ok() && banner.starts_with("220") {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "aiosmtpd did not accept connections on port {port} within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (child, port)
}
