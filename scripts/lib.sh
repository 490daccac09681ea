# Shared by scripts/demo, scripts/test and bench/run: install what is
# missing, build and install the extension, and run a throwaway PostgreSQL
# cluster that is removed on exit.  Sourced, not run.

PG_MAJOR=${PG_MAJOR:-15}
# PG_BIN may name another installation of the same major version (a
# private copy, a package built elsewhere); Debian's is the default.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
# Exported so that the checks the suite runs (check-dump-restore...) use
# the same server, whatever its version.
export PG_MAJOR PG_BIN
APT_PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR make gcc libc6-dev"

say() { printf '%s\n' "$*" >&2; }

# Install the Debian packages the project needs, or say which command would.
rfm_need_packages() {
	local missing="" p
	for p in $APT_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		say "missing packages:$missing"
		say "run as root: apt-get update && apt-get install -y$missing"
		exit 1
	fi
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends $missing >&2
}

# Install an optional package if we can; say so if we cannot.  With
# RFM_OPTIONAL_PACKAGES=no (scripts/test-versions, in its roots) nothing
# is installed and the checks that need it are skipped.
rfm_want_package() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' && return 0
	if [ "${RFM_OPTIONAL_PACKAGES:-yes}" = no ]; then
		say "optional package $1 is not installed (RFM_OPTIONAL_PACKAGES=no)"
		return 1
	fi
	if [ "$(id -u)" -ne 0 ]; then
		say "optional package $1 is not installed (apt-get install -y $1 as root)"
		return 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >&2 ||
		{ say "optional package $1 could not be installed"; return 1; }
}

# Build with warnings as errors and install into the server's directories.
rfm_build_install() {
	local libdir
	make -s PG_CONFIG="$PG_BIN/pg_config" >&2
	libdir=$("$PG_BIN/pg_config" --pkglibdir)
	if [ ! -w "$libdir" ]; then
		say "cannot write $libdir: run 'make install' as root first"
		say "(or run this script as root)"
		exit 1
	fi
	make -s install PG_CONFIG="$PG_BIN/pg_config" >&2
}

# Run a command as the cluster's owner: root cannot run a PostgreSQL server.
rfm_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

rfm_stop_cluster() {
	if [ -n "${RFM_CLUSTER:-}" ] && [ -d "$RFM_CLUSTER" ]; then
		rfm_as_owner "$PG_BIN/pg_ctl" -D "$RFM_CLUSTER/data" -m immediate stop >/dev/null 2>&1 || true
		rm -rf "$RFM_CLUSTER"
	fi
}

# Start a private cluster on a Unix socket in a temporary directory, with
# settings that keep parallel tests meaningful on a small machine.  Extra
# postgres options may be passed as arguments ("-c name=value" ...).
rfm_start_cluster() {
	local port
	RFM_CLUSTER=$(mktemp -d /tmp/rfm_segment.XXXXXX)
	trap rfm_stop_cluster EXIT
	[ "$(id -u)" -eq 0 ] && chown postgres: "$RFM_CLUSTER"
	rfm_as_owner "$PG_BIN/initdb" -D "$RFM_CLUSTER/data" -U postgres \
		--auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$RFM_CLUSTER/initdb.log" 2>&1 || {
		cat "$RFM_CLUSTER/initdb.log" >&2
		exit 1
	}
	port=$((20000 + $$ % 20000))
	rfm_as_owner "$PG_BIN/pg_ctl" -D "$RFM_CLUSTER/data" -w -l "$RFM_CLUSTER/server.log" \
		-o "-p $port -k $RFM_CLUSTER -c listen_addresses='' -c max_worker_processes=16 -c max_parallel_workers=8 $*" \
		start >/dev/null || {
		cat "$RFM_CLUSTER/server.log" >&2
		exit 1
	}
	export PGHOST=$RFM_CLUSTER PGPORT=$port PGUSER=postgres PGDATABASE=postgres
}

# Peak private memory (RssAnon, kB) of the backend that runs a query,
# sampled from /proc every 20 ms, with parallel workers off so that one
# process does all the work.  Extra psql -c settings may follow the query.
# Prints the peak and returns psql's status; errors go to $RFM_CLUSTER/peak.err.
rfm_peak_rss() {
	local query=$1 pid peak=0 kb client status=0
	shift
	local settings=()
	for s in "$@"; do settings+=(-c "$s"); done
	psql -X -q -v ON_ERROR_STOP=1 -c "SET max_parallel_workers_per_gather = 0" "${settings[@]}" \
		-c "SELECT pg_backend_pid()" -c "SELECT pg_sleep(0.3)" -c "$query" -At \
		>"$RFM_CLUSTER/peak.out" 2>"$RFM_CLUSTER/peak.err" &
	client=$!
	sleep 0.15
	pid=$(head -1 "$RFM_CLUSTER/peak.out" 2>/dev/null || true)
	while kill -0 "$client" 2>/dev/null; do
		if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
			kb=$(awk '/^RssAnon/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
			[ -n "$kb" ] && [ "$kb" -gt "$peak" ] && peak=$kb
		else
			pid=$(head -1 "$RFM_CLUSTER/peak.out" 2>/dev/null || true)
		fi
		sleep 0.02
	done
	wait "$client" || status=$?
	echo "$peak"
	return "$status"
}
