# shellcheck shell=bash
# Helpers shared by the service files: paths, messages, timing, waiting and process checks.
# Sourced by scripts/services.sh; expects `set -euo pipefail` from it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VAR="$ROOT/var"
BIN="$ROOT/.bin"
HOST=127.0.0.1
PROBE="$ROOT/scripts/services/probe.py"

say() { printf '[services] %s\n' "$*"; }
warn() { printf '[services] warning: %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

# timed LABEL CMD...: run CMD and print how long it took.
timed() {
    local label=$1 start=$EPOCHREALTIME rc=0
    shift
    "$@" || rc=$?
    local ms=$(( (${EPOCHREALTIME/./} - ${start/./}) / 1000 ))
    say "$(printf '%-26s %d.%03d s' "$label" $((ms / 1000)) $((ms % 1000)))"
    return "$rc"
}

# apt_ensure PKG...: install the missing packages; apt-get update runs at most once, and only if needed.
APT_UPDATED=0
apt_ensure() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        say "apt: $* already installed"
        return 0
    fi
    [[ $(id -u) == 0 ]] || die "installing ${missing[*]} needs root (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    if ((APT_UPDATED == 0)); then
        apt-get update -qq
        APT_UPDATED=1
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# pid_of PIDFILE: print the pid recorded in PIDFILE if that process is alive.
pid_of() {
    local pid
    [[ -s $1 ]] || return 1
    read -r pid <"$1" || true
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# ensure_port_free NAME PORT: fail clearly when something else already listens on PORT.
ensure_port_free() {
    port_open "$2" || return 0
    die "$1: $HOST:$2 is already taken by a process this script did not start" \
        "(a system service? stop it, or choose another port with the env var in scripts/services.sh --help)"
}

# The port a running service was started on is kept in var/<service>/port, so that `start` with
# another CCX_*_PORT does not mistake the running instance for the one asked for.
record_port() { printf '%s\n' "$2" >"$1/port"; }
ensure_same_port() {
    local recorded
    recorded=$(cat "$2/port" 2>/dev/null) || return 0
    [[ $recorded == "$3" ]] || die "$1 is already running on port $recorded; stop it before changing its port"
}

# wait_for NAME SECONDS LOG PID CHECK...: poll CHECK until it succeeds. On a timeout, or when PID
# (if not empty) has exited, fail with the tail of LOG (a file, or a directory of *.log files).
wait_for() {
    local name=$1 seconds=$2 log=$3 pid=$4 deadline problem=
    shift 4
    deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            problem="exited during start-up"
        elif ((SECONDS >= deadline)); then
            problem="did not answer within ${seconds}s"
        fi
        if [[ -n $problem ]]; then
            printf '[services] error: %s %s\n' "$name" "$problem" >&2
            show_log_tail "$log"
            exit 1
        fi
        sleep 0.2
    done
}

show_log_tail() {
    local file
    for file in "$1" "$1"/*.log; do
        [[ -f $file ]] || continue
        printf '[services] last lines of %s:\n' "${file#"$ROOT"/}" >&2
        tail -n 30 "$file" >&2
    done
}

# wait_gone NAME PID SECONDS: wait for PID to exit, then SIGKILL it as a last resort.
wait_gone() {
    local name=$1 pid=$2 deadline=$((SECONDS + $3))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            warn "$name (pid $pid) still running after ${3}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            return 0
        fi
        sleep 0.2
    done
}

# status_line NAME PID PORT UP: one line of `status`.
status_line() {
    local state=down
    [[ $4 == 1 ]] && state=up
    printf '%-9s %-5s pid %-8s %s:%s\n' "$1" "$state" "${2:--}" "$HOST" "$3"
}
