# peers.sh: the peers' configurations, shared by bench.sh and cost.sh;
# sourced (not run). Each peer serves the same document root with the same
# number of worker processes or threads, no access log, sendfile, and
# keep-alive without a request limit that a run could reach.
#
#   find_bin NAME        the path of an installed server, or nothing
#   conf_NAME PORT       (nginx, lighttpd, h2o, limit) writes $TMP/NAME/'s
#                        configuration and sets CMD (the command line, to
#                        start under setsid) and CONF[NAME] (the file shown)
#   peer_version NAME    one line: the peer's version
#
# The caller sets TMP, DOCROOT, WORKERS, RUN_AS (the user the peers switch
# to when run as root, or empty), BIN (an associative array NAME -> binary)
# and declares CONF as an associative array.
# shellcheck shell=bash disable=SC2034  # CMD and CONF are for the caller

# From PATH or /usr/sbin (not on a user's PATH).
find_bin() {
	command -v "$1" 2>/dev/null || { [[ -x /usr/sbin/$1 ]] && echo "/usr/sbin/$1"; } || true
}

peer_dir() {
	mkdir -p "$1"
	[[ -z $RUN_AS ]] || chown "$RUN_AS" "$1"
}

conf_nginx() {
	local d=$TMP/nginx
	peer_dir "$d"
	mkdir -p "$d/tmp"
	cat >"$d/nginx.conf" <<EOF
${RUN_AS:+user $RUN_AS $(id -gn "$RUN_AS");}
worker_processes $WORKERS;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server {
        listen 127.0.0.1:$1;
        root $DOCROOT;
    }
}
EOF
	CMD=("${BIN[nginx]}" -e "$d/error.log" -p "$d/" -c "$d/nginx.conf")
	CONF[nginx]=$d/nginx.conf
}

conf_lighttpd() {
	local d=$TMP/lighttpd user=""
	peer_dir "$d"
	if [[ -n $RUN_AS ]]; then
		user="server.username = \"$RUN_AS\""$'\n'"server.groupname = \"$(id -gn "$RUN_AS")\""
	fi
	mkdir -p "$d"
	cat >"$d/lighttpd.conf" <<EOF
server.document-root = "$DOCROOT"
server.bind = "127.0.0.1"
server.port = $1
server.max-worker = $WORKERS
server.pid-file = "$d/lighttpd.pid"
server.errorlog = "$d/error.log"
server.max-fds = 16384
server.max-connections = 8192
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 65
server.network-backend = "sendfile"
mimetype.assign = ( "" => "application/octet-stream" )
$user
EOF
	CMD=("${BIN[lighttpd]}" -D -f "$d/lighttpd.conf")
	CONF[lighttpd]=$d/lighttpd.conf
}

conf_h2o() {
	local d=$TMP/h2o
	peer_dir "$d"
	cat >"$d/h2o.conf" <<EOF
listen:
  host: 127.0.0.1
  port: $1
num-threads: $WORKERS
pid-file: $d/h2o.pid
error-log: $d/error.log
${RUN_AS:+user: $RUN_AS}
http1-request-timeout: 65
hosts:
  default:
    paths:
      /:
        file.dir: $DOCROOT
EOF
	CMD=("${BIN[h2o]}" -m worker -c "$d/h2o.conf")
	CONF[h2o]=$d/h2o.conf
}

conf_limit() {
	local d=$TMP/limit
	peer_dir "$d"
	printf "limit -p %s -w %s   (canned 1 KiB 200 response, parses only CRLFCRLF)\n" "$1" "$WORKERS" >"$d/cmdline"
	CMD=("${BIN[limit]}" -p "$1" -w "$WORKERS")
	CONF[limit]=$d/cmdline
}

peer_version() {
	case $1 in
	nginx) "${BIN[nginx]}" -v 2>&1 | sed 's/^nginx version: //' ;;
	lighttpd) "${BIN[lighttpd]}" -v 2>&1 | head -n1 | awk '{print $1}' ;;
	h2o) "${BIN[h2o]}" -v 2>&1 | head -n1 ;;
	limit) echo "tests/bench/limit.c ($(date -u -r "${BIN[limit]}" '+built %Y-%m-%d %H:%M UTC'))" ;;
	esac
}
