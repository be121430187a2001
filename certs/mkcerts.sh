#!/bin/sh
# mkcerts.sh: a site CA, agent (server) and client certificates for the
# sctag control API's mutual TLS, with openssl. See certs/README.md.
#
# Every key is ECDSA P-256: NNG 1.5.2's mbedTLS 2.28 takes ECDSA and RSA
# certificates, not Ed25519 ones, and P-256 is the smallest and fastest of
# those. TLS only says "a certificate from this CA"; who the caller is,
# and what it may do, comes from its Ed25519 request signatures
# (docs/security.md).
set -eu

prog=${0##*/}
dir=.
force=0
ca_days=3650
days=825
crl_days=365

usage() {
	cat >&2 <<EOF
usage: $prog [-d DIR] [--force] [--days N] ca [NAME]
       $prog [-d DIR] [--force] [--days N] agent HOST [HOST|IP ...]
       $prog [-d DIR] [--force] [--days N] client NAME
       $prog [-d DIR] [--crl-days N] revoke NAME
       $prog [-d DIR] [--crl-days N] crl

  ca      the site CA: DIR/ca.crt and DIR/ca.key. An existing CA is kept
          unless --force (which invalidates every certificate it signed).
  agent   a server certificate for sctagd (serverAuth); the subject
          alternative names are HOST and every further name or IP address.
          DIR/agent-HOST.crt, .key, and .pem (certificate + key, for
          nng_tls_config_cert_key_file).
  client  a client certificate (clientAuth): DIR/client-NAME.crt, .key,
          .pem.

  revoke  revoke DIR/client-NAME.crt (or DIR/agent-NAME.crt) and make the
          CRL again.
  crl     make the CRL again (before it expires!): DIR/ca.crl, and
          DIR/ca-crl.pem, the CA and its CRL in one file: give that to
          sctagd as api.tls.ca (or api.events_tls.ca) and restart it.
          A client whose certificate the CRL lists can not connect. An
          expired CRL makes every client fail: make it again in time.

  An existing agent or client certificate is kept unless --force.
  -d DIR       where the files go (default: the current directory)
  --days N     validity of agent and client certificates (default $days)
  --crl-days N validity of the CRL (default $crl_days)
EOF
	exit 2
}

die() {
	echo "$prog: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case $1 in
	-d) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
	--force) force=1; shift ;;
	--days) [ $# -ge 2 ] || usage; days=$2; shift 2 ;;
	--crl-days) [ $# -ge 2 ] || usage; crl_days=$2; shift 2 ;;
	-h|--help) usage ;;
	-*) echo "$prog: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
cmd=$1
shift
case $days in
''|*[!0-9]*) die "--days wants a number of days, got '$days'" ;;
esac
case $crl_days in
''|*[!0-9]*) die "--crl-days wants a number of days, got '$crl_days'" ;;
esac

command -v openssl >/dev/null 2>&1 || die "openssl is not installed"
mkdir -p "$dir"
# Keys are born private: nothing is ever readable by others, not even
# between openssl writing a file and chmod.
umask 077

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkcerts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1" 2>/dev/null || die "openssl genpkey failed"
	chmod 600 "$1"
}

serial() {
	# 16 random bytes with the top bit clear: a positive serial.
	echo "0x$(openssl rand -hex 16 | sed 's/^./4/')"
}

need_ca() {
	[ -f "$dir/ca.crt" ] && [ -f "$dir/ca.key" ] ||
	    die "no CA in $dir: run '$prog -d $dir ca' first"
}

# issue KIND NAME SUBJECT_CN EXTENSIONS_FILE
issue() {
	base=$dir/$1-$2
	if [ -f "$base.crt" ] && [ $force -eq 0 ]; then
		echo "kept     $base.crt (exists; --force to issue again)"
		return 0
	fi
	need_ca
	newkey "$tmp/key"
	openssl req -new -key "$tmp/key" -subj "/CN=$3" -out "$tmp/csr" \
	    2>/dev/null || die "openssl req failed for $3"
	openssl x509 -req -in "$tmp/csr" -CA "$dir/ca.crt" \
	    -CAkey "$dir/ca.key" -set_serial "$(serial)" -days "$days" \
	    -sha256 -extfile "$4" -out "$tmp/crt" 2>/dev/null ||
	    die "openssl x509 failed for $3"
	# Key first, certificate last: a crash leaves no cert without key.
	mv "$tmp/key" "$base.key"
	cat "$tmp/crt" "$base.key" > "$base.pem"
	chmod 600 "$base.pem"
	mv "$tmp/crt" "$base.crt"
	chmod 644 "$base.crt"
	echo "made     $base.crt  $(openssl x509 -in "$base.crt" -noout \
	    -subject -enddate | tr '\n' ' ')"
	echo "         $base.key  (0600)"
	echo "         $base.pem  (certificate + key, 0600)"
}

# The CA's database of revoked certificates (openssl ca), DIR/ca-db.
ca_db() {
	need_ca
	mkdir -p "$dir/ca-db"
	[ -f "$dir/ca-db/index.txt" ] || : > "$dir/ca-db/index.txt"
	[ -f "$dir/ca-db/crlnumber" ] || echo 1000 > "$dir/ca-db/crlnumber"
	cat > "$tmp/ca.cnf" <<EOF
[ ca ]
default_ca = site
[ site ]
database = $dir/ca-db/index.txt
crlnumber = $dir/ca-db/crlnumber
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
default_crl_days = $crl_days
EOF
}

gencrl() {
	openssl ca -config "$tmp/ca.cnf" -gencrl -out "$tmp/crl" \
	    2>"$tmp/err" || die "openssl ca -gencrl failed: $(cat "$tmp/err")"
	cat "$dir/ca.crt" "$tmp/crl" > "$tmp/ca-crl.pem"
	chmod 644 "$tmp/crl" "$tmp/ca-crl.pem"
	mv "$tmp/crl" "$dir/ca.crl"
	mv "$tmp/ca-crl.pem" "$dir/ca-crl.pem"
	echo "made     $dir/ca.crl  ($(openssl crl -in "$dir/ca.crl" -noout \
	    -nextupdate))"
	echo "         $dir/ca-crl.pem  (CA + CRL: api.tls.ca)"
}

case $cmd in
ca)
	[ $# -le 1 ] || usage
	name=${1:-sctag site CA}
	if [ -f "$dir/ca.key" ] && [ $force -eq 0 ]; then
		echo "kept     $dir/ca.crt (exists; --force makes a new CA," \
		    "and every certificate it signed stops working)"
		exit 0
	fi
	newkey "$tmp/ca.key"
	openssl req -x509 -new -key "$tmp/ca.key" -sha256 -days "$ca_days" \
	    -subj "/CN=$name" \
	    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" \
	    -addext "subjectKeyIdentifier=hash" \
	    -out "$tmp/ca.crt" 2>/dev/null || die "openssl req -x509 failed"
	mv "$tmp/ca.key" "$dir/ca.key"
	mv "$tmp/ca.crt" "$dir/ca.crt"
	chmod 644 "$dir/ca.crt"
	echo "made     $dir/ca.crt  (CN=$name, $ca_days days)"
	echo "         $dir/ca.key  (0600: keep it offline)"
	;;
agent)
	[ $# -ge 1 ] || usage
	host=$1
	case $host in
	''|*[!A-Za-z0-9.-]*) die "agent host '$host' is not a host name" ;;
	esac
	san=
	for n in "$@"; do
		case $n in
		*:*) kind=IP ;;		# IPv6
		*[!0-9.]*) kind=DNS ;;
		*) kind=IP ;;		# dotted IPv4
		esac
		case $n in
		''|*[!A-Za-z0-9.:-]*) die "'$n' is neither a host name nor an IP address" ;;
		esac
		san=${san:+$san,}$kind:$n
	done
	cat > "$tmp/ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
	issue agent "$host" "$host" "$tmp/ext"
	;;
client)
	[ $# -eq 1 ] || usage
	case $1 in
	''|*[!A-Za-z0-9._@-]*) die "client name '$1' must be A-Z a-z 0-9 . _ @ -" ;;
	esac
	cat > "$tmp/ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
	issue client "$1" "$1" "$tmp/ext"
	;;
revoke)
	[ $# -eq 1 ] || usage
	crt=$dir/client-$1.crt
	[ -f "$crt" ] || crt=$dir/agent-$1.crt
	[ -f "$crt" ] || die "no $dir/client-$1.crt nor $dir/agent-$1.crt"
	ca_db
	openssl ca -config "$tmp/ca.cnf" -revoke "$crt" 2>"$tmp/err" ||
	    grep -q 'Already revoked' "$tmp/err" ||
	    die "openssl ca -revoke failed: $(cat "$tmp/err")"
	echo "revoked  $crt  ($(openssl x509 -in "$crt" -noout -serial))"
	gencrl
	;;
crl)
	[ $# -eq 0 ] || usage
	ca_db
	gencrl
	;;
*)
	echo "$prog: unknown command '$cmd'" >&2
	usage
	;;
esac
