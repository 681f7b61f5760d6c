# shellcheck shell=bash
# Redis: Debian's redis-server bound to loopback, data, log and pid under var/redis/.

REDIS_PORT=${CCX_REDIS_PORT:-6379}
REDIS_DIR="$VAR/redis"

redis_install() { apt_ensure redis-server; }

redis_ping() { [[ $(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }

redis_start() {
    local pid
    if pid=$(pid_of "$REDIS_DIR/redis.pid"); then
        ensure_same_port redis "$REDIS_DIR" "$REDIS_PORT"
        wait_for redis "${CCX_SERVICES_TIMEOUT:-30}" "$REDIS_DIR/redis.log" "$pid" redis_ping
        say "redis already running (pid $pid)"
        return 0
    fi
    command -v redis-server >/dev/null || die "redis-server is not installed: scripts/services.sh install redis"
    ensure_port_free redis "$REDIS_PORT"
    mkdir -p "$REDIS_DIR"
    redis-server --bind "$HOST" --port "$REDIS_PORT" --dir "$REDIS_DIR" \
        --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log"
    wait_for redis "${CCX_SERVICES_TIMEOUT:-30}" "$REDIS_DIR/redis.log" "" redis_ping
    record_port "$REDIS_DIR" "$REDIS_PORT"
    say "redis up on $HOST:$REDIS_PORT (pid $(pid_of "$REDIS_DIR/redis.pid"))"
}

redis_stop() {
    local pid
    if ! pid=$(pid_of "$REDIS_DIR/redis.pid"); then
        say "redis not running"
        return 0
    fi
    redis-cli -h "$HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    wait_gone redis "$pid" 20
    say "redis stopped"
}

redis_status() {
    local pid up=0
    pid=$(pid_of "$REDIS_DIR/redis.pid") || pid=
    [[ -n $pid ]] && redis_ping && up=1
    status_line redis "$pid" "$REDIS_PORT" "$up"
    [[ $up == 1 ]]
}
