#!/bin/sh
# Renders the configuration templates into Asterisk's configuration directory on every start,
# filling the {{NAME}} placeholders from the environment, then runs the command (Asterisk).
# A missing or unsafe value stops the container with a message naming the variable: better no
# PBX than one with an empty ARI password or a half-written trunk.
set -eu

TEMPLATES="${OUTDIAL_TEMPLATE_DIR:-/usr/local/share/outdial/asterisk}"
TARGET="${OUTDIAL_CONFIG_DIR:-/etc/asterisk}"

fail() {
  echo "asterisk entrypoint: $*" >&2
  exit 2
}

: "${ARI_BIND_ADDRESS:=127.0.0.1}"
export ARI_BIND_ADDRESS

# Values end up in Asterisk configuration files, where ";" starts a comment and "[" a section:
# only characters that cannot change the file's meaning are let through. grep looks at one line
# at a time, so a line break is refused first.
newline='
'
check() {
  name="$1"
  pattern="$2"
  eval "value=\${$name:-}"
  [ -n "$value" ] || fail "$name is required"
  case "$value" in *"$newline"*) fail "$name has characters that are not allowed in an Asterisk configuration value" ;; esac
  printf '%s' "$value" | grep -Eq "^${pattern}\$" || fail "$name has characters that are not allowed in an Asterisk configuration value"
}

check ARI_BIND_ADDRESS '[0-9A-Fa-f.:]+'
check ARI_USERNAME '[A-Za-z0-9_.-]{1,64}'
check ARI_PASSWORD '[A-Za-z0-9_.~+/=!@%^*,:-]{16,256}'
case "$ARI_PASSWORD" in
  aripass | *changeme* | *CHANGEME* | *change-me*) fail "ARI_PASSWORD is a placeholder; generate one" ;;
esac
check TRUNK_HOST '[A-Za-z0-9.-]{1,253}'
check TRUNK_USERNAME '[A-Za-z0-9_.+-]{1,128}'
check TRUNK_PASSWORD '[A-Za-z0-9_.~+/=!@%^*,:#$&()-]{1,256}'

mkdir -p "$TARGET"
for template in "$TEMPLATES"/*.conf; do
  [ -e "$template" ] || fail "no templates in $TEMPLATES"
  out="$TARGET/$(basename "$template")"
  # awk reads the values from ENVIRON, so no value is ever interpreted by the shell or by a regex.
  awk '
    {
      line = $0
      rendered = ""
      while (match(line, /\{\{[A-Z_]+\}\}/)) {
        name = substr(line, RSTART + 2, RLENGTH - 4)
        if (!(name in ENVIRON) || ENVIRON[name] == "") {
          print "asterisk entrypoint: " FILENAME " needs " name > "/dev/stderr"
          exit 2
        }
        rendered = rendered substr(line, 1, RSTART - 1) ENVIRON[name]
        line = substr(line, RSTART + RLENGTH)
      }
      print rendered line
    }' "$template" >"$out.tmp" || fail "rendering $(basename "$template") failed"
  mv "$out.tmp" "$out"
done

# The files hold the ARI and trunk passwords.
if id asterisk >/dev/null 2>&1; then
  chown root:asterisk "$TARGET"/*.conf
  chmod 0640 "$TARGET"/*.conf
fi

exec "$@"
