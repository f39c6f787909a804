#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seeds taken, at run time, from ../shared/fixtures (the
# platforms' own example payloads) and from the project's own examples (tocsin.example.toml,
# the grammar table). Nothing here is committed: fuzz/corpus is gitignored. Seeds already in
# a corpus stay (libFuzzer adds what it finds to the same folder), so reruns build on them.
#
# Usage: fuzz/seed.sh [fixtures-dir]   (default: ../shared/fixtures beside the project)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fixtures="${1:-${TOCSIN_FIXTURES:-$here/../../shared/fixtures}}"
if [[ ! -d "$fixtures" ]]; then
    echo "seed.sh: no fixtures at $fixtures (pass the path, or set TOCSIN_FIXTURES)" >&2
    exit 1
fi
exec python3 - "$fixtures" "$here" <<'PY'
import glob, hashlib, json, os, re, sys, urllib.parse
from base64 import urlsafe_b64encode

fixtures, here = sys.argv[1], sys.argv[2]
root = os.path.dirname(here)
count = {}

def seed(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    count[target] = count.get(target, 0) + 1

def files(pattern):
    return sorted(glob.glob(os.path.join(fixtures, pattern), recursive=True))

def read(path):
    with open(path, "rb") as f:
        return f.read()

def compact(value):
    return json.dumps(value, separators=(",", ":"))

# Slack: slash commands (forms, and as JSON objects for Socket Mode), interactions (raw and
# as the `payload=` form), events; each also wrapped in a Socket Mode envelope.
for p in files("slack/slash-commands/*.form.txt"):
    body = read(p).strip()
    seed("slack_slash_command", body)
    fields = dict(urllib.parse.parse_qsl(body.decode()))
    seed("slack_slash_command", compact(fields))
    seed("slack_socket_frame", compact({"type": "slash_commands", "envelope_id": "e-1",
                                        "payload": fields, "accepts_response_payload": True}))
for p in files("slack/java-sdk-shapes/app-backend/slash-commands/*.json"):
    seed("slack_slash_command", read(p))
for p in files("slack/interactivity/*.json") + files("slack/java-sdk-shapes/app-backend/views/*.json") \
        + files("slack/java-sdk-shapes/app-backend/interactive-components/*.json"):
    raw = read(p)
    seed("slack_interaction", raw)
    try:
        value = json.loads(raw)
    except ValueError:
        continue
    seed("slack_interaction", "payload=" + urllib.parse.quote(compact(value)))
    seed("slack_socket_frame", compact({"type": "interactive", "envelope_id": "e-2",
                                        "payload": value, "accepts_response_payload": True}))
for p in files("slack/events/*.json") + files("slack/java-sdk-shapes/events/*.json"):
    raw = read(p)
    seed("slack_event", raw)
    try:
        value = json.loads(raw)
    except ValueError:
        continue
    seed("slack_socket_frame", compact({"type": "events_api", "envelope_id": "e-3", "payload": value,
                                        "accepts_response_payload": False, "retry_attempt": 1,
                                        "retry_reason": "timeout"}))
seed("slack_socket_frame", '{"type":"hello","num_connections":1,"debug_info":{"approximate_connection_time":18060}}')
seed("slack_socket_frame", '{"type":"disconnect","reason":"refresh_requested"}')

# Discord: interactions (the requests; the response shapes are JSON too, and cheap) and the
# custom ids Tocsin's buttons carry.
for p in files("discord/interactions/*.json"):
    seed("discord_interaction", read(p))
for text in ["resolve:7", "status:0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "click_one", ":x", "ack_alert:",
             "declare\nsev1"]:
    seed("discord_custom_id", text)

# Teams: activities; the `value`s they carry and the cards' action data; tokens.
for p in files("teams/activities/*.json"):
    raw = read(p)
    seed("teams_activity", raw)
    try:
        value = json.loads(raw).get("value")
    except (ValueError, AttributeError):
        value = None
    if value is not None:
        seed("teams_card_value", compact(value))
for p in files("teams/adaptive-cards/*.json"):
    seed("teams_card_value", read(p))
    try:
        for action in json.loads(read(p)).get("actions", []):
            seed("teams_card_value", compact({"action": action}))
            if "data" in action:
                seed("teams_card_value", compact(action["data"]))
    except (ValueError, AttributeError):
        pass
seed("teams_card_value", '{"data":{"tocsin_dialog":"declare","title":"DB down","severity":"sev2"}}')
metadata = read(os.path.join(fixtures, "teams/auth/botframework-openidconfiguration.json"))
jwks = read(os.path.join(fixtures, "teams/auth/botframework-jwks.shape-example.json"))
seed("teams_jwks", jwks)
seed("teams_jwks", metadata + b"\0" + jwks)

def b64(value):
    return urlsafe_b64encode(value if isinstance(value, bytes) else compact(value).encode()).rstrip(b"=").decode()

# The header and claims of the token example in teams/auth/jwt-claims.md, with this
# project's test app id and service URL (what the target checks against).
claims = {"aud": "app-id", "iss": "https://api.botframework.com", "nbf": 1763999000, "exp": 1764003000,
          "serviceUrl": "https://smba.trafficmanager.net/amer/"}
header = {"typ": "JWT", "alg": "RS256", "x5t": "fuzz-key", "kid": "fuzz-key"}
seed("teams_jwt", compact(claims))
seed("teams_jwt", compact(dict(claims, aud=["other", "app-id"], nbf=1763999000.5)))
token = b64(header) + "." + b64(claims) + "." + b64(b"\x01" * 256)
seed("teams_jwt", token)
seed("teams_jwt", "Bearer " + token)

# Alerts: each tool's own examples; the generic target also with mappings.
for tool in ["alertmanager", "grafana", "pagerduty"]:
    for p in files(f"alerts/{tool}/*.json"):
        seed(f"alerts_{tool}", read(p))
        seed("alerts_generic", read(p))
mappings = {
    "alertmanager": {"summary": "/annotations/summary", "dedup_key": "/fingerprint",
                     "severity": "/labels/severity", "status": "/status", "alerts": "/alerts"},
    "grafana": {"summary": "/labels/alertname", "dedup_key": "/fingerprint", "status": "/status",
                "alerts": "/alerts", "resolved_values": ["resolved"]},
    "pagerduty": {"summary": "/payload/summary", "dedup_key": "/dedup_key",
                  "severity": "/payload/severity", "status": "/event_action"},
}
for tool, mapping in mappings.items():
    for p in files(f"alerts/{tool}/*.json"):
        seed("alerts_generic", compact(mapping).encode() + b"\0" + read(p))

# Twilio: no fixtures; the fields its SMS and voice webhooks send (twilio.com docs).
for body in ["Body=ack&From=%2B15551234567&To=%2B15557654321&MessageSid=SM123&AccountSid=AC123",
             "Body=Escalate%21&From=%2B15551234567",
             "Digits=1&CallSid=CA123&From=%2B15551234567",
             "Body=%3CDial%3E%2B1900%3C%2FDial%3E&Digits=2"]:
    seed("twilio_form", body)

# GitHub: each webhook under the event its file is named for, and an `issues` delivery
# made from a pull request's repository and sender (no issues example in the fixtures).
for p in files("github/webhooks/*.json"):
    event = os.path.basename(p).split(".")[0]
    raw = read(p)
    seed("github_webhook", event.encode() + b"\0" + raw)
    try:
        value = json.loads(raw)
    except ValueError:
        continue
    if "pull_request" in value and "repository" in value:
        issue = {"action": "closed", "issue": {"number": value["pull_request"]["number"]},
                 "repository": value["repository"], "sender": value.get("sender")}
        seed("github_webhook", b"issues\0" + compact(issue).encode())
        seed("github_webhook", compact(dict(issue, action="reopened")))
seed("github_webhook", b'ping\0{"zen":"Keep it logically awesome.","hook_id":1}')

# The chat grammar: every text in the grammar table; console lines around them.
table = open(os.path.join(root, "commands/src/grammar_tests.rs")).read()
texts = [bytes(t, "utf-8").decode("unicode_escape") for _, t in
         re.findall(r'\(\s*"(incident|oncall)",\s*"((?:[^"\\]|\\.)*)"', table)]
for text in texts:
    seed("chat_grammar", text)
    seed("console_line", "/incident " + text)
seed("chat_grammar", b"declare\0title=Checkout is failing\nseverity=sev2\nservices=checkout")
seed("chat_grammar", b"resolve_public:0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\0public=All fixed.\nnote=cache")
for line in ["/join #inc-1", "/pin it broke here", "/rooms", "/quit", "2", "the checkout is down",
             "/oncall take for 2h"]:
    seed("console_line", line)

# Configuration: the example file and the TOML the config tests parse.
seed("config_toml", read(os.path.join(root, "tocsin.example.toml")))
for p in glob.glob(os.path.join(root, "tests/scenarios/*.toml")):
    seed("config_toml", read(p))
for p in [os.path.join(root, "src/config.rs")] + glob.glob(os.path.join(root, "src/config/*.rs")):
    for text in re.findall(r'r#"(.*?)"#', open(p).read(), re.S):
        if "[" in text or "=" in text:
            seed("config_toml", text)

for target in sorted(count):
    print(f"seed.sh: {target}: {count[target]} seeds")
PY
