//! Running the real binary: a one-service site's configuration and a `tocsin serve` that
//! has started listening. The replicas benchmark includes this file by path.

use std::time::Duration;

/// A site with one service, `checkout`, whose Alertmanager integration reads its key from
/// `key_env` and whose policy pages one person, `oncall`, over a webhook at `webhook` every
/// `attempt_interval`.
pub fn one_webhook_site(webhook: &str, key_env: &str, attempt_interval: &str) -> String {
    format!(
        r#"
[paging]
attempt_interval = "{attempt_interval}"

[console]
enabled = false

[[users]]
id = "oncall"
name = "On Call"
time_zone = "UTC"
[[users.notify]]
channel = "webhook"
to = "{webhook}"

[[escalation_policies]]
id = "solo"
[[escalation_policies.levels]]
targets = ["user:oncall"]

[[services]]
id = "checkout"
name = "Checkout"
escalation_policy = "solo"
[[services.integrations]]
name = "prometheus"
kind = "alertmanager"
key_env = "{key_env}"
"#
    )
}

/// Starts a `tocsin serve` command (stdout is taken over here) and waits for its
/// "listening on URL" line; returns the process and that URL.
pub async fn start_serving(
    mut command: tokio::process::Command,
) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("tocsin starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("reading stdout") {
            if let Some(url) = line.strip_prefix("listening on ") {
                return url.to_owned();
            }
        }
        panic!("tocsin serve exited before listening");
    })
    .await
    .expect("tocsin serve did not start listening");
    (child, base)
}
