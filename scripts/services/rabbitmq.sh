# shellcheck shell=bash
# RabbitMQ: Debian's rabbitmq-server as a node of our own (ccx@localhost), not the system service.
# Everything lives under var/rabbitmq/: Mnesia, logs, pid, plugins file and the Erlang cookie
# (HOME points there, so running as root never touches /var/lib/rabbitmq or root's cookie).
# Debian's /usr/sbin wrappers `su` to the rabbitmq user and drop our environment, so the scripts
# in /usr/lib/rabbitmq/bin are called directly.

RABBIT_PORT=${CCX_RABBIT_PORT:-5672}
RABBIT_DIR="$VAR/rabbitmq"
RABBIT_LIB=/usr/lib/rabbitmq/bin
RABBIT_NODE=${CCX_RABBIT_NODE:-ccx-$RABBIT_PORT@localhost}  # one node per port: two checkouts can run side by side

rabbitmq_install() { apt_ensure rabbitmq-server; }

# rabbit_env CMD...: run CMD with this node's environment.
rabbit_env() {
    env HOME="$RABBIT_DIR" LC_ALL=C.UTF-8 \
        RABBITMQ_NODENAME="$RABBIT_NODE" \
        RABBITMQ_NODE_IP_ADDRESS="$HOST" \
        RABBITMQ_NODE_PORT="$RABBIT_PORT" \
        RABBITMQ_DIST_PORT=$((RABBIT_PORT + 20000)) \
        ERL_EPMD_ADDRESS="$HOST" \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
        RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
        RABBITMQ_MNESIA_BASE="$RABBIT_DIR/mnesia" \
        RABBITMQ_LOG_BASE="$RABBIT_DIR/log" \
        RABBITMQ_PID_FILE="$RABBIT_DIR/rabbitmq.pid" \
        RABBITMQ_CONF_ENV_FILE="$RABBIT_DIR/rabbitmq-env.conf" \
        RABBITMQ_CONFIG_FILE="$RABBIT_DIR/rabbitmq.conf" \
        RABBITMQ_ADVANCED_CONFIG_FILE="$RABBIT_DIR/advanced.config" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_DIR/enabled_plugins" \
        "$@"
}

rabbitmq_ping() { python3 "$PROBE" amqp "$HOST" "$RABBIT_PORT"; }

rabbitmq_start() {
    local pid timeout=${CCX_SERVICES_TIMEOUT:-90}
    if pid=$(pid_of "$RABBIT_DIR/rabbitmq.pid"); then
        ensure_same_port rabbitmq "$RABBIT_DIR" "$RABBIT_PORT"
        wait_for rabbitmq "$timeout" "$RABBIT_DIR/log" "$pid" rabbitmq_ping
        say "rabbitmq already running (pid $pid)"
        return 0
    fi
    [[ -x $RABBIT_LIB/rabbitmq-server ]] || die "rabbitmq-server is not installed: scripts/services.sh install rabbitmq"
    ensure_port_free rabbitmq "$RABBIT_PORT"
    mkdir -p "$RABBIT_DIR/log"
    printf '[].\n' >"$RABBIT_DIR/enabled_plugins" # no plugins: the management UI is not needed
    rm -f "$RABBIT_DIR/rabbitmq.pid"
    rabbit_env setsid "$RABBIT_LIB/rabbitmq-server" >>"$RABBIT_DIR/log/startup.log" 2>&1 </dev/null &
    pid=$!
    # The AMQP listener opens at the end of the boot steps, so an answer means the broker is ready.
    wait_for rabbitmq "$timeout" "$RABBIT_DIR/log" "$pid" rabbitmq_ping
    record_port "$RABBIT_DIR" "$RABBIT_PORT"
    say "rabbitmq up on $HOST:$RABBIT_PORT as $RABBIT_NODE (pid $(pid_of "$RABBIT_DIR/rabbitmq.pid"))"
}

rabbitmq_stop() {
    local pid
    if ! pid=$(pid_of "$RABBIT_DIR/rabbitmq.pid"); then
        say "rabbitmq not running"
        return 0
    fi
    # `stop PIDFILE` returns once the Erlang VM has exited.
    rabbit_env timeout 60 "$RABBIT_LIB/rabbitmqctl" -q stop "$RABBIT_DIR/rabbitmq.pid" >/dev/null ||
        kill -TERM "$pid" 2>/dev/null || true
    wait_gone rabbitmq "$pid" 30
    say "rabbitmq stopped"
}

rabbitmq_status() {
    local pid up=0
    pid=$(pid_of "$RABBIT_DIR/rabbitmq.pid") || pid=
    [[ -n $pid ]] && rabbitmq_ping && up=1
    status_line rabbitmq "$pid" "$RABBIT_PORT" "$up"
    [[ $up == 1 ]]
}
