#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `meson install` into a scratch DESTDIR: the binary, both man pages, the
# systemd unit (ExecStart naming the installed binary), the example
# configs and vps-nat.sh land where they belong; the pages render without
# a warning, carry the binary's version and describe every command and
# every config setting; `systemd-analyze verify` accepts the unit (skipped
# without systemd-analyze). The build directory is left as it was.
# Needs man-db and groff-base (man -l); root is not needed.
# Usage: tests/integration/install.sh SOURCE-ROOT BUILD-ROOT
set -euo pipefail

if [[ $# -ne 2 || ! -d $1 || ! -f $2/meson-private/install.dat ]]; then
	echo "usage: $0 SOURCE-ROOT BUILD-ROOT (a configured meson build)" >&2
	exit 2
fi
SRC=$(realpath "$1")
BUILD=$(realpath "$2")

fail()
{
	echo "install: FAIL: $*" >&2
	exit 1
}

for t in python3 man; do
	command -v "$t" >/dev/null ||
		fail "needs $t (apt-get install man-db groff-base python3)"
done
# the meson that configured the build (another version may refuse it)
read -ra MESON < <(sed -n 's/^ command = \(.*\) --internal regenerate .*/\1/p' \
	"$BUILD/build.ninja" | head -n 1)
((${#MESON[@]})) || MESON=(meson)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/braid-install.XXXXXX")
DEST=$TMP/root
# meson install writes its list of installed files into the build
# directory: keep what was there and put it back.
INSTALL_LOG=$BUILD/meson-logs/install-log.txt
had_log=false
if [[ -e $INSTALL_LOG ]]; then
	cp -p "$INSTALL_LOG" "$TMP/install-log.txt"
	had_log=true
fi
cleanup()
{
	if $had_log; then
		cp -p "$TMP/install-log.txt" "$INSTALL_LOG"
	else
		rm -f "$INSTALL_LOG"
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

# --- install ---------------------------------------------------------------
"${MESON[@]}" install -C "$BUILD" --destdir "$DEST" --no-rebuild \
	>"$TMP/install.out" 2>&1 ||
	fail "meson install failed: $(cat "$TMP/install.out")"

# Where things go, from the build's own options: PREFIX, SBINDIR, MANDIR,
# DATADIR (absolute), UNIT (where meson put braid@.service).
eval "$("${MESON[@]}" introspect --buildoptions --installed "$BUILD" |
	python3 -c '
import json, os, shlex, sys
d = json.load(sys.stdin)
o = {x["name"]: x["value"] for x in d["buildoptions"]}
for k in ("prefix", "sbindir", "mandir", "datadir"):
    print("%s=%s" % (k.upper(), shlex.quote(os.path.join(o["prefix"], o[k]))))
unit = [v for k, v in d["installed"].items() if k.endswith("/braid@.service")]
print("UNIT=%s" % shlex.quote(unit[0] if unit else ""))
')"
echo "installed under $DEST:"
(cd "$DEST" && find . -type f | sort | sed 's|^\.|   |')

# --- the binary ------------------------------------------------------------
BIN=$DEST$SBINDIR/braid
[[ -x $BIN ]] || fail "no executable braid in $SBINDIR"
VERSION=$("$BIN" version) || fail "the installed braid does not run"
[[ $VERSION =~ ^braid\ [0-9.]+\ \(wire\ protocol\ [0-9]+\)$ ]] ||
	fail "braid version printed '$VERSION'"
echo "ok: $SBINDIR/braid runs ($VERSION)"
VERSION=${VERSION% (*}		# the man pages name the release

# --- the man pages ---------------------------------------------------------
LOCALES=(C)
locale -a 2>/dev/null | grep -Eqix 'c\.utf-?8' && LOCALES+=(C.UTF-8)

# check_page SECTION NAME HEADING...: installed as in docs/, its .TH names
# the binary's version, renders cleanly, has every HEADING.
check_page()
{
	local sec=$1 name=$2 page src out loc h
	shift 2
	page=$DEST$MANDIR/man$sec/$name.$sec
	src=$SRC/docs/$name.$sec
	[[ -f $page ]] || fail "$name($sec) not installed in $MANDIR/man$sec"
	cmp -s "$src" "$page" || fail "$page differs from $src"
	grep -Eq "^\.TH [^ ]+ $sec [^ ]+ \"$VERSION\" " "$page" ||
		fail "$name.$sec: .TH does not say \"$VERSION\": $(grep '^\.TH' "$page")"
	# -ww: every troff warning ("all" leaves out undefined macros)
	for loc in "${LOCALES[@]}"; do
		out=$(LC_ALL=$loc MANWIDTH=80 man -l --warnings=w "$page" \
			2>&1 >/dev/null) || fail "man -l $name.$sec failed: $out"
		[[ -z $out ]] || fail "man -l $name.$sec warns ($loc): $out"
	done
	# plain text, without overstrikes or colours
	LC_ALL=C MANWIDTH=80 man -l "$page" 2>/dev/null |
		sed -e 's/\x1b\[[0-9;]*m//g' -e 's/.\x08//g' >"$TMP/$name.txt"
	for h in "$@"; do
		grep -qx "$h" "$TMP/$name.txt" ||
			fail "$name($sec) has no section $h"
	done
	echo "ok: $name($sec) renders without warnings, sections: $*"
}
check_page 8 braid NAME SYNOPSIS DESCRIPTION COMMANDS SIGNALS ENVIRONMENT \
	FILES "EXIT STATUS" EXAMPLES "SEE ALSO"
check_page 5 braid.conf NAME SYNOPSIS DESCRIPTION "SETTINGS FOR BOTH SIDES" \
	"MASTER SETTINGS" "SLAVE SETTINGS" LINKS ROUTING HOOKS RELOADING \
	EXAMPLES "SEE ALSO"

# Every command of `braid help` has an entry under COMMANDS.
mapfile -t cmds < <("$BIN" help | sed -n 's/^  braid \([a-z]*\).*/\1/p')
((${#cmds[@]})) || fail "braid help lists no commands"
sed -n '/^COMMANDS$/,/^SIGNALS$/p' "$TMP/braid.txt" >"$TMP/commands.txt"
for c in "${cmds[@]}"; do
	grep -Eq "^ {7}$c( |\$)" "$TMP/commands.txt" ||
		fail "braid(8) has no entry for the command '$c' under COMMANDS"
done
echo "ok: braid(8) describes every command: ${cmds[*]}"

# Every setting the config parser knows (its known[] lists) is a tagged
# paragraph of braid.conf(5).
python3 - "$SRC" "$SRC/docs/braid.conf.5" <<'PY' || exit 1
import glob, re, sys
keys = set()
for f in glob.glob(sys.argv[1] + "/src/cfg*.c"):
    for m in re.finditer(r"known\[\]\s*=\s*\{(.*?)\};", open(f).read(), re.S):
        keys.update(re.findall(r'"(\w+)"', m.group(1)))
if len(keys) < 20:
    sys.exit("install: FAIL: found only %d settings in src/cfg*.c" % len(keys))
lines = open(sys.argv[2]).read().split("\n")
tagged = set()
for i, l in enumerate(lines[:-1]):
    if l.startswith(".TP"):
        tagged.update(re.findall(r"\w+", lines[i + 1].split("\\(em")[0]))
missing = sorted(keys - tagged)
if missing:
    sys.exit("install: FAIL: braid.conf(5) does not describe: " +
             ", ".join(missing))
print("ok: braid.conf(5) describes all %d settings" % len(keys))
PY

# --- the systemd unit ------------------------------------------------------
[[ -n $UNIT && -f $DEST$UNIT ]] || fail "braid@.service not installed"
if [[ $PREFIX != /usr ]]; then
	[[ $UNIT == "$PREFIX/lib/systemd/system/braid@.service" ]] ||
		fail "unit installed as $UNIT, not below $PREFIX/lib/systemd/system"
fi
grep -qx "ExecStart=$SBINDIR/braid run -c /etc/braid/%i.conf" "$DEST$UNIT" ||
	fail "the unit does not start $SBINDIR/braid:" \
		"$(grep '^ExecStart' "$DEST$UNIT")"
! grep -En '@[A-Z_]+@' "$DEST$UNIT" ||
	fail "unsubstituted @VARIABLE@ in the unit"
echo "ok: $UNIT starts $SBINDIR/braid"
if command -v systemd-analyze >/dev/null; then
	# verify wants ExecStart to exist and the Documentation= pages to be
	# found: point them into DESTDIR
	mkdir "$TMP/unit"
	sed "s|^ExecStart=$SBINDIR/braid |ExecStart=$BIN |" "$DEST$UNIT" \
		>"$TMP/unit/braid@.service"
	out=$(MANPATH=$DEST$MANDIR systemd-analyze verify \
		"$TMP/unit/braid@.service" 2>&1) ||
		fail "systemd-analyze verify: $out"
	[[ -z $out ]] || fail "systemd-analyze verify: $out"
	echo "ok: systemd-analyze verify accepts the unit"
else
	echo "skipped: systemd-analyze not found, the unit is not verified"
fi

# --- the examples ----------------------------------------------------------
EXAMPLES=$DATADIR/doc/braid/examples
for f in master.conf slave.conf vps-nat.sh; do
	cmp -s "$SRC/examples/$f" "$DEST$EXAMPLES/$f" ||
		fail "examples/$f not installed in $EXAMPLES"
done
[[ -x $DEST$EXAMPLES/vps-nat.sh ]] ||
	fail "$EXAMPLES/vps-nat.sh is not executable"
echo "ok: example configs and vps-nat.sh in $EXAMPLES"

echo
echo "install: all checks passed"
