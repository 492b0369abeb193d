#!/usr/bin/env bash
# Download a model folder at a pinned revision and verify every file.
#
#   weights/fetch.sh NAME [--from SOURCE] [--dest DIR] [--manifest FILE]
#
# NAME selects weights/manifests/NAME.sha256, which pins the upstream
# repository, the revision and the SHA-256 of every file.  SOURCE is where
# the files come from:
#   (default)          https://huggingface.co, i.e. <SOURCE>/<repo>/resolve/<revision>/<file>
#   https://mirror     the same layout on a mirror
#   /local/folder      a folder that already holds the files (e.g. copied by hand
#                      to an air-gapped server); nothing is downloaded
# DIR defaults to $(pg_config --sharedir)/embed/models/NAME.  The files are
# gathered in a temporary folder and moved into DIR only when every hash
# matches, so a failed or tampered download never leaves a half-installed model.
set -euo pipefail

usage() {
	sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

HERE=$(cd "$(dirname "$0")" && pwd)
NAME=
SOURCE=${EMBED_WEIGHTS_FROM:-https://huggingface.co}
DEST=
MANIFEST=
while [ $# -gt 0 ]; do
	case "$1" in
		--from) SOURCE=$2; shift 2 ;;
		--dest) DEST=$2; shift 2 ;;
		--manifest) MANIFEST=$2; shift 2 ;;
		-h|--help) usage ;;
		-*) echo "unknown option $1" >&2; usage ;;
		*) [ -z "$NAME" ] || usage; NAME=$1; shift ;;
	esac
done
[ -n "$NAME" ] || usage
case "$NAME" in
	*/*|.*|"") echo "invalid model name: $NAME" >&2; exit 2 ;;
esac
MANIFEST=${MANIFEST:-$HERE/manifests/$NAME.sha256}
if [ ! -f "$MANIFEST" ]; then
	echo "no manifest for model \"$NAME\" ($MANIFEST); known models:" >&2
	ls "$HERE/manifests" 2>/dev/null | sed -n 's/\.sha256$//p' | sed 's/^/  /' >&2
	exit 1
fi
if [ -z "$DEST" ]; then
	DEST="$(pg_config --sharedir)/embed/models/$NAME"
fi

REPO=$(sed -n 's/^# repo: *//p' "$MANIFEST")
REVISION=$(sed -n 's/^# revision: *//p' "$MANIFEST")
[[ "$REVISION" =~ ^[0-9a-f]{40}$ ]] || { echo "manifest $MANIFEST pins no 40-hex revision" >&2; exit 1; }

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/embed-fetch.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT

fetch_one() {
	local file=$1 target=$STAGE/$1
	mkdir -p "$(dirname "$target")"
	case "$SOURCE" in
		http://*|https://*)
			curl --fail --location --silent --show-error --retry 3 \
				-o "$target" "$SOURCE/$REPO/resolve/$REVISION/$file"
			;;
		*)
			[ -f "$SOURCE/$file" ] || { echo "missing in $SOURCE: $file" >&2; return 1; }
			cp "$SOURCE/$file" "$target"
			;;
	esac
}

status=0
while read -r sum file; do
	case "$sum" in ''|'#'*) continue ;; esac
	[[ "$sum" =~ ^[0-9a-f]{64}$ ]] || { echo "bad manifest line: $sum $file" >&2; exit 1; }
	case "$file" in /*|*..*) echo "bad path in manifest: $file" >&2; exit 1 ;; esac
	if ! fetch_one "$file"; then
		status=1
		continue
	fi
	got=$(sha256sum "$STAGE/$file" | cut -d' ' -f1)
	if [ "$got" != "$sum" ]; then
		echo "SHA-256 mismatch for $file: expected $sum, got $got" >&2
		status=1
	else
		echo "verified $file"
	fi
done <"$MANIFEST"
if [ $status -ne 0 ]; then
	echo "model \"$NAME\" was not installed: some files are missing or do not match the manifest" >&2
	exit 1
fi

mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST.new"
cp -r "$STAGE" "$DEST.new"
chmod -R a+rX "$DEST.new"
rm -rf "$DEST"
mv "$DEST.new" "$DEST"
echo "installed model \"$NAME\" (revision $REVISION) in $DEST"
