# shellcheck shell=bash
# FerretDB v1 (MongoDB wire protocol on SQLite), built from the Go module proxy through the wrapper
# module tools/ferretdb/ into .bin/ferretdb; data, log and pid under var/ferretdb/.

FERRETDB_PORT=${CCX_MONGO_PORT:-27017}
FERRETDB_DIR="$VAR/ferretdb"
FERRETDB_SRC="$ROOT/tools/ferretdb"
FERRETDB_STAMP="$BIN/ferretdb.stamp"

# The build is skipped when .bin/ferretdb was built from the same wrapper module files.
ferretdb_source_hash() {
    (cd "$FERRETDB_SRC" && cat go.mod go.sum ./*.go) | sha256sum | cut -d' ' -f1
}

find_go() {
    local go
    for go in "${GO:-}" "$(command -v go || true)" /usr/local/go/bin/go; do
        [[ -n $go && -x $go ]] && { printf '%s\n' "$go"; return 0; }
    done
    return 1
}

ferretdb_install() {
    local go hash
    hash=$(ferretdb_source_hash)
    if [[ -x $BIN/ferretdb && -f $FERRETDB_STAMP && $(<"$FERRETDB_STAMP") == "$hash" ]]; then
        say "ferretdb: .bin/ferretdb is up to date"
        return 0
    fi
    go=$(find_go) || die "ferretdb: Go >= 1.24 is needed to build FerretDB (set GO=/path/to/go)"
    mkdir -p "$BIN"
    say "ferretdb: building with $("$go" version | cut -d' ' -f3) (a few minutes on 2 cores the first time)"
    (cd "$FERRETDB_SRC" &&
        GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
            "$go" build -trimpath -o "$BIN/ferretdb.tmp" .)
    mv "$BIN/ferretdb.tmp" "$BIN/ferretdb"
    printf '%s\n' "$hash" >"$FERRETDB_STAMP"
}

ferretdb_ping() { python3 "$PROBE" mongo "$HOST" "$FERRETDB_PORT"; }

ferretdb_start() {
    local pid
    if pid=$(pid_of "$FERRETDB_DIR/ferretdb.pid"); then
        ensure_same_port ferretdb "$FERRETDB_DIR" "$FERRETDB_PORT"
        wait_for ferretdb "${CCX_SERVICES_TIMEOUT:-30}" "$FERRETDB_DIR/ferretdb.log" "$pid" ferretdb_ping
        say "ferretdb already running (pid $pid)"
        return 0
    fi
    [[ -x $BIN/ferretdb ]] || die "ferretdb is not built: scripts/services.sh install ferretdb"
    [[ -f $FERRETDB_STAMP && $(<"$FERRETDB_STAMP") == "$(ferretdb_source_hash)" ]] ||
        warn "ferretdb: .bin/ferretdb is older than tools/ferretdb/; run scripts/services.sh install ferretdb"
    ensure_port_free ferretdb "$FERRETDB_PORT"
    # The SQLite URL must name an existing directory and end with "/". synchronous(normal): in
    # WAL mode a commit is not fsynced until the next checkpoint, like MongoDB's default write
    # concern (acknowledged before the journal is flushed); a single-document update takes
    # 1.7 ms instead of 3.9 ms, and writers hold SQLite's single write lock half as long.
    mkdir -p "$FERRETDB_DIR/data"
    DO_NOT_TRACK=1 setsid "$BIN/ferretdb" --listen-addr="$HOST:$FERRETDB_PORT" \
        --sqlite-url="file:$FERRETDB_DIR/data/?_pragma=synchronous(normal)" --log-level=${CCX_FERRETDB_LOG_LEVEL:-warn} \
        ${CCX_FERRETDB_PPROF_ADDR:+--pprof-addr="$CCX_FERRETDB_PPROF_ADDR"} \
        >>"$FERRETDB_DIR/ferretdb.log" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$FERRETDB_DIR/ferretdb.pid"
    wait_for ferretdb "${CCX_SERVICES_TIMEOUT:-30}" "$FERRETDB_DIR/ferretdb.log" "$pid" ferretdb_ping
    record_port "$FERRETDB_DIR" "$FERRETDB_PORT"
    say "ferretdb up on $HOST:$FERRETDB_PORT (pid $pid)"
}

ferretdb_stop() {
    local pid
    if ! pid=$(pid_of "$FERRETDB_DIR/ferretdb.pid"); then
        say "ferretdb not running"
        return 0
    fi
    kill -TERM "$pid"
    wait_gone ferretdb "$pid" 20
    rm -f "$FERRETDB_DIR/ferretdb.pid"
    say "ferretdb stopped"
}

ferretdb_status() {
    local pid up=0
    pid=$(pid_of "$FERRETDB_DIR/ferretdb.pid") || pid=
    [[ -n $pid ]] && ferretdb_ping && up=1
    status_line ferretdb "$pid" "$FERRETDB_PORT" "$up"
    [[ $up == 1 ]]
}
