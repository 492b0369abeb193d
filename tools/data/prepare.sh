#!/usr/bin/env bash
# Prepare the sentence-embedding training data (see tools/data/README.md).
#
#   tools/data/prepare.sh [--out DIR] [--no-apt] [--samples N]
#
# Installs the Debian packages it reads (when missing), fetches the English
# package descriptions index, then runs prepare.py (Python standard library
# only).  Output goes to --out, else $EMBED_DATA_DIR, else /var/tmp/embed-data.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${EMBED_DATA_DIR:-/var/tmp/embed-data}
APT=1
PYARGS=()

while [ $# -gt 0 ]; do
	case "$1" in
		--out) OUT=$2; shift 2 ;;
		--out=*) OUT=${1#--out=}; shift ;;
		--no-apt) APT=0; shift ;;
		--samples) PYARGS+=(--samples "$2"); shift 2 ;;
		-h|--help) sed -n '2,9p' "$0"; exit 0 ;;
		*) echo "prepare.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

PACKAGES="wordnet-base dict-gcide dict-foldoc dict-jargon dict-vera dict-devil manpages
	manpages-dev fortunes fortunes-min sword-text-kjv sword-text-web diatheke"

# Package descriptions come from the Translation-en index, which Debian's
# container images do not download by default.
have_translations() {
	local f
	for f in $(apt-get indextargets -o Acquire::Languages=en --format '$(FILENAME)' \
			'Identifier: Translations' 'Language: en' 2>/dev/null); do
		[ -e "$f" ] && return 0
	done
	return 1
}

if [ "$APT" = 1 ]; then
	missing=""
	for p in $PACKAGES; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
	done
	if [ -n "$missing" ] || ! have_translations; then
		echo "apt-get update (with English descriptions)" >&2
		apt-get update -qq -o Acquire::Languages=en
	fi
	if [ -n "$missing" ]; then
		echo "installing:$missing" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
	fi
fi
for p in $PACKAGES; do
	if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		echo "prepare.sh: package $p is not installed (run without --no-apt, as root)" >&2
		exit 1
	fi
done
if ! have_translations; then
	echo "prepare.sh: no Translation-en index; run: apt-get update -o Acquire::Languages=en" >&2
	exit 1
fi

mkdir -p "$OUT"
exec /usr/bin/python3 "$HERE/prepare.py" --out "$OUT" "${PYARGS[@]}"
