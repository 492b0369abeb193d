# Shared shell functions for .ci/run and tools/demo.sh.
#
# Installs what the build and the tests need (Debian packages), and starts a
# throwaway PostgreSQL server as the `postgres` user in a temporary
# directory, listening on a Unix socket only.  Source this file; it defines
# functions and sets nothing else.

PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin

# Install the Debian packages the build and the tests need (only the missing ones).
embed_install_deps() {
	local want=(build-essential pkg-config "postgresql-$PG_MAJOR" libopenblas-dev libutf8proc-dev
		"postgresql-$PG_MAJOR-pgtap" libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
		"postgresql-contrib" valgrind)
	local missing=() p
	for p in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	# The server-dev package must match the installed server's version exactly.
	if ! dpkg-query -W -f='${Status}' "postgresql-server-dev-$PG_MAJOR" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("postgresql-server-dev-$PG_MAJOR")
	fi
	if [ ${#missing[@]} -gt 0 ]; then
		echo "installing: ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		local server_version
		server_version=$(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR" 2>/dev/null || true)
		local pinned=()
		for p in "${missing[@]}"; do
			if [ "$p" = "postgresql-server-dev-$PG_MAJOR" ] && [ -n "$server_version" ]; then
				pinned+=("$p=$server_version")
			else
				pinned+=("$p")
			fi
		done
		# Pinning can fail when the archive moved on; fall back to the candidate versions.
		apt-get install -y -qq "${pinned[@]}" >/dev/null ||
			apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
	[ -x "$PG_BIN/postgres" ] || { echo "PostgreSQL $PG_MAJOR server not found in $PG_BIN" >&2; return 1; }
}

# Start a server in a new temporary directory; sets EMBED_PGDIR, PGHOST, PGPORT, PGUSER.
# Extra postgres -c settings may be passed as arguments.
embed_start_server() {
	EMBED_PGDIR=$(mktemp -d /tmp/embed-pg.XXXXXX)
	chmod 755 "$EMBED_PGDIR"
	chown postgres: "$EMBED_PGDIR"
	PGPORT=${PGPORT:-$((20000 + RANDOM % 10000))}
	runuser -u postgres -- "$PG_BIN/initdb" -D "$EMBED_PGDIR/data" -A trust -E UTF8 \
		--locale=C.UTF-8 >"$EMBED_PGDIR/initdb.log" 2>&1 ||
		{ cat "$EMBED_PGDIR/initdb.log"; return 1; }
	local opts="-k $EMBED_PGDIR -p $PGPORT -c listen_addresses='' -c fsync=off"
	local s
	for s in "$@"; do opts="$opts -c $s"; done
	runuser -u postgres -- env OPENBLAS_NUM_THREADS=1 "$PG_BIN/pg_ctl" -D "$EMBED_PGDIR/data" \
		-o "$opts" -l "$EMBED_PGDIR/server.log" -w start >/dev/null ||
		{ cat "$EMBED_PGDIR/server.log"; return 1; }
	export PGHOST=$EMBED_PGDIR PGPORT PGUSER=postgres
}

# Stop the server started by embed_start_server and remove its directory.
embed_stop_server() {
	[ -n "${EMBED_PGDIR:-}" ] || return 0
	if [ -f "$EMBED_PGDIR/data/postmaster.pid" ]; then
		runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$EMBED_PGDIR/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$EMBED_PGDIR"
	EMBED_PGDIR=
}
