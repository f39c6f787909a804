#!/usr/bin/env bash
# Runs the fuzz targets (issue 13 §4), one after the other, each seeded from the fixtures.
#
#   fuzz/run.sh smoke [seconds] [target…]   each target for `seconds` (default 20); CI
#   fuzz/run.sh full  [runs]    [target…]   each target for `runs` inputs (default 1000000)
#   fuzz/run.sh list                        the targets
#
# Any crash, panic, timeout (-timeout=10 s per input), or allocation past the limits
# (-malloc_limit_mb=512 for one allocation, -rss_limit_mb=2048 in all) fails the run; the
# input lands in fuzz/artifacts/<target>/ and the script exits 1 after the other targets.
# Per target it prints libFuzzer's own count: `Done N runs in S second(s)`.
#
# Needs the nightly toolchain (`cargo +nightly`); installs cargo-fuzz when it is missing.
# Builds into fuzz/target, apart from the project's own target dir.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

mode="${1:-smoke}"
shift || true
case "$mode" in
    smoke) amount="${1:-20}" ;;
    full) amount="${1:-1000000}" ;;
    list) cargo +nightly fuzz list; exit 0 ;;
    *) echo "usage: $0 smoke [seconds] [target…] | full [runs] [target…] | list" >&2; exit 2 ;;
esac
shift || true
[[ "$amount" =~ ^[0-9]+$ ]] || { echo "run.sh: '$amount' is not a number" >&2; exit 2; }

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz" >&2
    cargo +nightly install cargo-fuzz --locked
fi

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

# Without the fixtures the targets still run, from whatever corpus is there.
./seed.sh >/dev/null || echo "run.sh: not seeded (see seed.sh); fuzzing from the corpus as it is" >&2
started=$SECONDS
# One build of every target (a no-op when nothing changed), whichever are run.
cargo +nightly fuzz build
echo "run.sh: built in $((SECONDS - started)) s" >&2

triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
bin_dir="$here/target/$triple/release"

dict_for() {
    case "$1" in
        config_toml) echo dict/toml.dict ;;
        chat_grammar | console_line | discord_custom_id) echo dict/grammar.dict ;;
        slack_slash_command | slack_interaction | twilio_form) echo dict/form.dict ;;
        *) echo dict/json.dict ;;
    esac
}

failed=()
summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log="$(mktemp)"
    limit=(-max_total_time="$amount")
    [[ "$mode" == full ]] && limit=(-runs="$amount")
    set +e
    "$bin_dir/$t" "corpus/$t" "${limit[@]}" \
        -dict="$(dict_for "$t")" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"$log" 2>&1
    status=$?
    set -e
    done_line="$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)"
    if [[ $status -ne 0 ]]; then
        failed+=("$t")
        summary+=("$t: FAILED (exit $status), see fuzz/artifacts/$t/")
        grep -E 'ERROR: libFuzzer|panicked at|SUMMARY|Test unit written|==ERROR' "$log" | head -n 8 >&2 || true
    else
        summary+=("$t: ${done_line:-no Done line}")
    fi
    echo "${summary[-1]}"
    rm -f "$log"
done

echo "run.sh: $mode finished in $((SECONDS - started)) s for ${#targets[@]} targets" >&2
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "run.sh: crashes in: ${failed[*]}" >&2
    exit 1
fi
