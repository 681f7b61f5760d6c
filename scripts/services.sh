#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Install, start, stop and inspect the local services ccx needs: RabbitMQ, Redis and FerretDB.
#
#   scripts/services.sh {install|start|stop|status|restart} [rabbitmq|redis|ferretdb ...]
#
# With no service named, all three. Everything listens on 127.0.0.1 only; data, logs and pid
# files live in var/<service>/ and the FerretDB binary in .bin/ (both git-ignored).
#
#   install  apt-get install rabbitmq-server / redis-server when missing (apt-get update only then);
#            build .bin/ferretdb from tools/ferretdb/ with Go >= 1.24 unless already built from it
#   start    start each service and wait until it answers its protocol; no-op when running
#   stop     clean shutdown, waiting until the process is gone
#   status   one line per service: up/down, pid, address; exit status 3 if any is down
#
# Environment:
#   CCX_RABBIT_PORT=5672  CCX_REDIS_PORT=6379  CCX_MONGO_PORT=27017   ports (loopback) to use
#   CCX_SERVICES_TIMEOUT  seconds to wait for a service to answer (default 90 RabbitMQ, 30 others)
#   GO                    the go binary for the FerretDB build (default: go on PATH, /usr/local/go/bin/go)
# Clients read the URLs from settings (CCX_MONGO_URI, CCX_REDIS_URL, CCX_RABBITMQ_URL); `ccx services`
# points them at the ports above by itself.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/services/common.sh"
. "$here/services/rabbitmq.sh"
. "$here/services/redis.sh"
. "$here/services/ferretdb.sh"

ALL=(rabbitmq redis ferretdb)

usage() {
    sed -n '3,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit "${1:-0}"
}

run_each() {
    local action=$1 service rc=0
    shift
    for service in "$@"; do
        case $action in
            install | start) timed "$action $service" "${service}_$action" || rc=$? ;;
            status) "${service}_status" || rc=3 ;;
            *) "${service}_$action" || rc=$? ;;
        esac
    done
    return "$rc"
}

main() {
    local action=${1:-}
    [[ -n $action ]] || usage 2
    shift
    case $action in
        -h | --help | help) usage 0 ;;
        install | start | stop | status | restart) ;;
        *) printf 'unknown action %q\n\n' "$action" >&2 && usage 2 ;;
    esac
    local services=("$@") service
    ((${#services[@]})) || services=("${ALL[@]}")
    for service in "${services[@]}"; do
        [[ " ${ALL[*]} " == *" $service "* ]] || die "unknown service '$service' (known: ${ALL[*]})"
    done
    if [[ $action == restart ]]; then
        run_each stop "${services[@]}"
        action=start
    fi
    run_each "$action" "${services[@]}"
}

main "$@"
