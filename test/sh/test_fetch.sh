#!/usr/bin/env bash
# weights/fetch.sh: installs a model only when every file matches its pinned
# SHA-256, from a local folder; refuses tampered, missing and unknown inputs.
set -u
cd "$(dirname "$0")/../.."
n=0
fails=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); fi; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
SRC=test/models/embed-test-tiny
MAN=$T/tiny.sha256
{
	echo "# repo: example/embed-test-tiny"
	echo "# revision: 0123456789abcdef0123456789abcdef01234567"
	(cd "$SRC" && find . -type f | sed 's|^\./||' | sort | xargs sha256sum)
} >"$MAN"

weights/fetch.sh tiny --manifest "$MAN" --from "$SRC" --dest "$T/out/tiny" >"$T/log" 2>&1
ok $? "fetch from a local folder succeeds"
diff -r "$SRC" "$T/out/tiny" >/dev/null
ok $? "installed folder is identical to the source"

cp -r "$SRC" "$T/tampered"
printf 'x' >>"$T/tampered/vocab.txt"
weights/fetch.sh tiny --manifest "$MAN" --from "$T/tampered" --dest "$T/out/bad" >"$T/log" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "SHA-256 mismatch for vocab.txt" "$T/log"
ok $? "a tampered file is refused and named"
[ ! -e "$T/out/bad" ]
ok $? "nothing is installed after a mismatch"

rm "$T/tampered/vocab.txt"
cp "$SRC/vocab.txt" "$T/tampered/vocab.txt"
rm "$T/tampered/config.json"
weights/fetch.sh tiny --manifest "$MAN" --from "$T/tampered" --dest "$T/out/bad" >"$T/log" 2>&1
[ $? -ne 0 ] && grep -q "missing in .*: config.json" "$T/log"
ok $? "a missing file is refused and named"

weights/fetch.sh no-such-model --dest "$T/out/x" >"$T/log" 2>&1
[ $? -ne 0 ] && grep -q "all-MiniLM-L6-v2" "$T/log"
ok $? "an unknown model is refused with the list of known ones"

weights/fetch.sh ../evil --dest "$T/out/x" >"$T/log" 2>&1
[ $? -eq 2 ]
ok $? "a model name with a path is refused"

# The shipped manifest pins the official files: check the ones we can see.
REF=../shared/models/all-MiniLM-L6-v2
if [ -d "$REF" ]; then
	bad=0
	while read -r sum file; do
		case "$sum" in ''|'#'*) continue ;; esac
		[ "$file" = model.safetensors ] && continue
		[ "$(sha256sum "$REF/$file" | cut -d' ' -f1)" = "$sum" ] || bad=1
	done <weights/manifests/all-MiniLM-L6-v2.sha256
	ok $bad "all-MiniLM-L6-v2 manifest matches the official tokenizer and config files"
else
	n=$((n + 1)); echo "ok $n # SKIP ../shared/models/all-MiniLM-L6-v2 not present"
fi
echo "1..$n"
[ $fails -eq 0 ]
