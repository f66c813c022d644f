#!/usr/bin/env bash
# CI: build the container image (docker/Dockerfile) with podman, run it, and smoke-test it from
# outside: /healthz, an items page, a vector tile and a download, over a port on 127.0.0.1.
#
# Only package registries are reachable from CI machines, so the base image is made here: Debian
# bookworm by `debootstrap --variant=minbase` from the mirror apt already uses, with Python 3.11
# and the CA certificates this machine added (a TLS-inspecting egress proxy signs with them; pip
# inside the build needs them), then `podman import`. It is cached under a tag that hashes its
# inputs (mirror, packages, certificates), so later runs skip it.
#
# The machine refuses podman's default rlimits (nofile 1048576, nproc above pid_max), so every
# podman build/run gets explicit --ulimit values within this shell's hard limits, and --runtime runc.
#
# Environment:
#   SASARAN_CONTAINER_FRESH=1    drop the cached base and build without the layer cache (a cold run)
#   SASARAN_CONTAINER_BASE=IMG   use IMG as the base instead of the debootstrap one (e.g. where
#                                python:3.11-slim-bookworm can be pulled)
#   SASARAN_IMAGE                tag of the built image (default localhost/sasaran:ci)
#   DEBIAN_MIRROR                mirror for debootstrap (default: apt's own, from `apt-get indextargets`)
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST, PIP_DEFAULT_TIMEOUT
#                                passed to pip in the build (else pip's own config on this machine);
#                                HTTP(S)_PROXY/NO_PROXY are passed through by podman itself
#   SASARAN_PODMAN_NOFILE, SASARAN_PODMAN_NPROC   override the rlimits
#
# Every wait is bounded; any failure exits non-zero with a line starting "container-test: FAILED".
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE=bookworm
BASE_PACKAGES=python3.11,python3-venv,ca-certificates
BASE_RECIPE=1  # bump when the base recipe below changes, so the cached base is rebuilt
IMAGE=${SASARAN_IMAGE:-localhost/sasaran:ci}
CONTAINER=sasaran-container-test
FRESH=${SASARAN_CONTAINER_FRESH:-0}
DEBOOTSTRAP_TIMEOUT=900
BUILD_TIMEOUT=1500
HEALTH_WAIT=180

log() { echo "container-test: $*"; }
die() {
  echo "container-test: FAILED: $*" >&2
  exit 1
}
elapsed() { echo $(($(date +%s) - $1)); }
# Quick podman queries, bounded like everything else (a stuck storage lock must not hang CI).
pq() { timeout 60 podman "$@"; }
# Prefix each line with the seconds since it started, so a slow build step shows in the CI log.
stamp() {
  local start=$SECONDS line
  while IFS= read -r line; do printf '[%4ds] %s\n' $((SECONDS - start)) "$line"; done
}
t_start=$(date +%s)

# --- tools -------------------------------------------------------------------------------------
need=()
tools=(podman runc)
[ -n "${SASARAN_CONTAINER_BASE:-}" ] || tools+=(debootstrap)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "${need[*]} not installed, and cannot install them here (needs root and apt-get)"
  fi
  log "installing ${need[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  # Without recommends: podman then runs rootful with CNI networking and iptables (both pulled in
  # as dependencies); no slirp4netns, fuse-overlayfs or uidmap, which only rootless podman needs.
  timeout 600 apt-get update -qq || die "apt-get update failed"
  timeout 900 apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || die "apt-get install ${need[*]} failed"
fi
log "$(podman --version), runc $(runc --version | awk 'NR == 1 {print $3}')"

hard_nofile=$(ulimit -Hn)
[ "$hard_nofile" = unlimited ] && hard_nofile=1048576
hard_nproc=$(ulimit -Hu)
pid_max=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 32768)
[ "$hard_nproc" = unlimited ] || [ "$hard_nproc" -gt "$pid_max" ] && hard_nproc=$pid_max
NOFILE=${SASARAN_PODMAN_NOFILE:-$hard_nofile}
NPROC=${SASARAN_PODMAN_NPROC:-$hard_nproc}
PODMAN_OPTS=(--runtime runc --ulimit "nofile=$NOFILE:$NOFILE" --ulimit "nproc=$NPROC:$NPROC")
log "podman options: ${PODMAN_OPTS[*]}"

if [ "$FRESH" = 1 ]; then
  log "fresh run: removing $IMAGE and the cached base images"
  timeout 120 podman rm -f -t 0 "$CONTAINER" >/dev/null 2>&1 || true
  old=$(pq images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/sasaran-base:' || true)
  ! pq image exists "$IMAGE" || old="$old $IMAGE"
  # shellcheck disable=SC2086  # one image name per word
  [ -z "${old// /}" ] || timeout 300 podman rmi -f $old >/dev/null
fi

# --- base image --------------------------------------------------------------------------------
# The CA certificates this machine added: /usr/local/share/ca-certificates, and certificates
# placed directly in /etc/ssl/certs (regular files; the symlinks there point into the distro bundle).
host_certs=()
while IFS= read -r -d '' cert; do host_certs+=("$cert"); done < <(
  { find /usr/local/share/ca-certificates -type f -name '*.crt' -print0 2>/dev/null
    find /etc/ssl/certs -maxdepth 1 -type f \( -name '*.pem' -o -name '*.crt' \) \
      ! -name ca-certificates.crt -print0 2>/dev/null; } | sort -z)
base_time=0
if [ -n "${SASARAN_CONTAINER_BASE:-}" ]; then
  BASE=$SASARAN_CONTAINER_BASE
  log "base: $BASE (given)"
else
  [ "$(id -u)" = 0 ] || die "debootstrap needs root; or set SASARAN_CONTAINER_BASE to a pullable image"
  # shellcheck disable=SC2016  # $(REPO_URI) is apt's format placeholder, not a shell expansion
  mirror=${DEBIAN_MIRROR:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null \
    | awk -v s="$SUITE" '$2 == s {print $1; exit}')}
  mirror=${mirror:-http://deb.debian.org/debian/}
  key=$( { echo "$BASE_RECIPE $SUITE $mirror $BASE_PACKAGES"; [ ${#host_certs[@]} -eq 0 ] || cat "${host_certs[@]}"; } \
    | sha256sum | cut -c1-12)
  BASE=localhost/sasaran-base:$SUITE-$key
  if pq image exists "$BASE"; then
    log "base: $BASE (cached)"
  else
    log "base: making $BASE with debootstrap from $mirror, ${#host_certs[@]} host CA certificate(s)"
    t0=$(date +%s)
    rootfs=$(mktemp -d /var/tmp/sasaran-base.XXXXXX)
    cleanup_rootfs() {
      # debootstrap mounts /proc and /sys inside the target; never delete through a mount.
      findmnt -rn -o TARGET | grep -F "$rootfs/" | sort -r | xargs -r umount -l 2>/dev/null || true
      rm -rf --one-file-system "$rootfs"
    }
    trap cleanup_rootfs EXIT
    # dpkg without fsync after every file: a throwaway tree, and ~1/3 faster here.
    mkdir -p "$rootfs/root/etc/dpkg/dpkg.cfg.d"
    echo force-unsafe-io >"$rootfs/root/etc/dpkg/dpkg.cfg.d/00-sasaran-unsafe-io"
    if ! timeout "$DEBOOTSTRAP_TIMEOUT" debootstrap --variant=minbase --include="$BASE_PACKAGES" \
      "$SUITE" "$rootfs/root" "$mirror" >"$rootfs/debootstrap.log" 2>&1; then
      tail -n 30 "$rootfs/debootstrap.log" >&2
      die "debootstrap $SUITE from $mirror failed or took over ${DEBOOTSTRAP_TIMEOUT} s"
    fi
    root=$rootfs/root
    for cert in "${host_certs[@]}"; do
      install -m 0644 "$cert" "$root/usr/local/share/ca-certificates/host-$(basename "${cert%.*}").crt"
    done
    chroot "$root" update-ca-certificates >/dev/null || die "update-ca-certificates in the base failed"
    chroot "$root" python3 -c 'import ensurepip, venv' || die "the base has no working python3 venv"
    rm "$root/etc/dpkg/dpkg.cfg.d/00-sasaran-unsafe-io"
    # Package caches, lists and documentation: ~140 MB the image never uses.
    rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* \
      "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
    tar --numeric-owner -C "$root" -c . | timeout 600 podman import -q \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null \
      || die "podman import of the base failed"
    cleanup_rootfs
    trap - EXIT
    base_time=$(elapsed "$t0")
    log "base: $BASE made in ${base_time} s"
    # Earlier bases (other certificates or recipe) are no longer used.
    for old in $(pq images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/sasaran-base:' | grep -vxF "$BASE"); do
      timeout 120 podman rmi "$old" >/dev/null 2>&1 || true
    done
  fi
fi

# --- pip settings for the build ----------------------------------------------------------------
# The same registry as the host's pip: its environment, else its config. file:// indexes are local
# to the host and left out. URLs with credentials are refused: build args end up in the image history.
pip_conf() { python3 -m pip config get "global.$1" 2>/dev/null || true; }
http_only() { tr ' ' '\n' | grep -E '^https?://' | paste -sd ' ' - || true; }
index_url=$(printf '%s' "${PIP_INDEX_URL:-$(pip_conf index-url)}" | http_only)
extra_urls=$(printf '%s' "${PIP_EXTRA_INDEX_URL:-$(pip_conf extra-index-url)}" | tr '\n' ' ' | http_only)
trusted=${PIP_TRUSTED_HOST:-$(pip_conf trusted-host | tr '\n' ' ')}
pip_timeout=${PIP_DEFAULT_TIMEOUT:-$(pip_conf timeout)}
if printf '%s %s' "$index_url" "$extra_urls" | grep -Eq '://[^/ ]*@'; then
  die "the pip index URL carries credentials, which would be recorded in the image history; use a credential-free mirror in PIP_INDEX_URL"
fi
build_args=(--build-arg "BASE=$BASE")
[ -z "$index_url" ] || build_args+=(--build-arg "PIP_INDEX_URL=$index_url")
[ -z "$extra_urls" ] || build_args+=(--build-arg "PIP_EXTRA_INDEX_URL=$extra_urls")
[ -z "${trusted// /}" ] || build_args+=(--build-arg "PIP_TRUSTED_HOST=$trusted")
[ -z "$pip_timeout" ] || build_args+=(--build-arg "PIP_DEFAULT_TIMEOUT=$pip_timeout")
# Our base has the host's CAs in its system bundle; point pip there rather than at certifi's.
[ -n "${SASARAN_CONTAINER_BASE:-}" ] || build_args+=(--build-arg "PIP_CERT=/etc/ssl/certs/ca-certificates.crt")
log "pip in the build: index ${index_url:-default (pypi.org)}${extra_urls:+, extra $extra_urls}"

# --- build -------------------------------------------------------------------------------------
cache_opts=()
[ "$FRESH" = 1 ] && cache_opts=(--no-cache)
log "building $IMAGE from docker/Dockerfile"
t0=$(date +%s)
# --format docker: the OCI image format has no HEALTHCHECK.
timeout "$BUILD_TIMEOUT" podman build "${PODMAN_OPTS[@]}" "${cache_opts[@]}" --format docker \
  -f docker/Dockerfile "${build_args[@]}" -t "$IMAGE" . 2>&1 | stamp \
  || die "podman build of docker/Dockerfile failed (or took over ${BUILD_TIMEOUT} s)"
build_time=$(elapsed "$t0")
size_bytes=$(pq image inspect --format '{{.Size}}' "$IMAGE")
user=$(pq image inspect --format '{{.Config.User}}' "$IMAGE")
case "$user" in "" | 0 | 0:* | root | root:*) die "the image runs as root (USER '$user')" ;; esac

# --- run and smoke-test from outside ------------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop_container() {
  local rc=$?
  if [ "$rc" != 0 ] && pq container exists "$CONTAINER" 2>/dev/null; then
    echo "container-test: last lines of the container's log:" >&2
    timeout 30 podman logs --tail 40 "$CONTAINER" >&2 2>&1 || true
  fi
  timeout 60 podman rm -f -t 10 "$CONTAINER" >/dev/null 2>&1 || true
  exit "$rc"
}
timeout 60 podman rm -f -t 0 "$CONTAINER" >/dev/null 2>&1 || true
trap stop_container EXIT
t0=$(date +%s)
# --no-healthcheck: podman schedules health checks with systemd timers, and there is no systemd
# here (it logs errors); the image's own check is run by hand below instead.
# SASARAN_PUBLIC_URL: the address published here, which links must start with (the smoke test checks).
timeout 120 podman run -d --name "$CONTAINER" "${PODMAN_OPTS[@]}" --no-healthcheck \
  -e "SASARAN_PUBLIC_URL=http://127.0.0.1:$port" \
  -p "127.0.0.1:$port:8000" "$IMAGE" >/dev/null || die "podman run $IMAGE failed"
log "running $CONTAINER on 127.0.0.1:$port"
timeout $((HEALTH_WAIT + 120)) python3 scripts/container_smoke.py "http://127.0.0.1:$port" --wait "$HEALTH_WAIT" \
  || die "smoke test of $IMAGE on 127.0.0.1:$port"

# The image's HEALTHCHECK command, exactly as Docker would run it inside the container.
mapfile -d '' health_cmd < <(pq image inspect --format '{{json .Config.Healthcheck.Test}}' "$IMAGE" \
  | python3 -c 'import json, sys
test = json.load(sys.stdin) or []
if test[:1] == ["CMD"]: sys.stdout.write("\0".join(test[1:]) + "\0")
elif test[:1] == ["CMD-SHELL"]: sys.stdout.write("/bin/sh\0-c\0" + test[1] + "\0")')
[ ${#health_cmd[@]} -gt 0 ] || die "the image has no HEALTHCHECK"
timeout 30 podman exec "$CONTAINER" "${health_cmd[@]}" || die "the image's HEALTHCHECK command fails"
log "HEALTHCHECK ok"

# Every process in the container runs as the unprivileged user.
users=$(timeout 30 podman top "$CONTAINER" user | tail -n +2 | sort -u | tr '\n' ' ')
if [ -z "$users" ] || grep -qw root <<<"$users"; then
  die "processes in the container run as: ${users:-(none listed)}"
fi
log "processes run as: $users(image USER $user)"
smoke_time=$(elapsed "$t0")

timeout 60 podman stop -t 15 "$CONTAINER" >/dev/null || die "podman stop did not return"
exit_code=$(pq inspect --format '{{.State.ExitCode}}' "$CONTAINER")
log "stopped (exit code $exit_code)"

log "base image: $([ "$base_time" = 0 ] && echo cached || echo "made in ${base_time} s")"
log "build: ${build_time} s$([ "$FRESH" = 1 ] && echo ' (no layer cache)')"
log "image size: $((size_bytes / 1000000)) MB ($IMAGE)"
log "smoke test (start, checks, health check): ${smoke_time} s"
log "total: $(elapsed "$t_start") s"
