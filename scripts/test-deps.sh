#!/usr/bin/env bash
# Debian packages the `pylayer test` / `pylayer inspect` tests use (Debian 12 "bookworm"):
#   - chromium: headless rendering of `pylayer inspect --html` (screenshot, console errors);
#   - qemu-user: runs an aarch64 Python for arm64 layers on an x86_64 machine;
#   - an aarch64 python3.11 sysroot: Debian's arm64 python3.11 .debs (and the libraries they
#     need), downloaded with `apt-get download` and unpacked with `dpkg -x` into
#     $PYLAYER_TEST_ARM64_SYSROOT (default: target/test-deps/sysroot-arm64). Nothing is
#     installed for arm64 system-wide, so it cannot clash with the machine's own python3.11.
# Idempotent: does nothing that is already done. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

sysroot="${PYLAYER_TEST_ARM64_SYSROOT:-target/test-deps/sysroot-arm64}"

if [ "$(uname -m)" != "x86_64" ] || ! command -v apt-get >/dev/null; then
    echo "test-deps: not an x86_64 Debian machine; the chromium and qemu tests fail under CI=true and are skipped otherwise" >&2
    exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo="sudo"; else
        echo "test-deps: not root and no sudo; cannot install chromium/qemu-user (those tests will be skipped)" >&2
        exit 0
    fi
fi

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
have_sysroot=$([ -x "$sysroot/usr/bin/python3.11" ] && [ -e "$sysroot/usr/lib/aarch64-linux-gnu/libstdc++.so.6" ] && echo yes || echo no)
if [ ${#need[@]} -gt 0 ] || [ "$have_sysroot" = no ]; then
    if [ "$have_sysroot" = no ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
        # Lets apt see arm64 package lists so that `apt-get download pkg:arm64` works.
        $sudo dpkg --add-architecture arm64
    fi
    $sudo apt-get update -qq
fi
if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ "$have_sysroot" = no ]; then
    debs="$(mktemp -d)"
    chmod 755 "$debs"  # apt downloads as the unprivileged _apt user
    # python3.11:arm64 and every library it depends on, arm64 builds only (the arch-all
    # packages such as tzdata are not needed to import anything), plus libstdc++6, which
    # the Lambda images have and C++ extension modules (pandas, pyarrow…) link.
    mapfile -t pkgs < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances --no-pre-depends python3.11:arm64 libstdc++6:arm64 \
        | grep -E '^[a-z0-9][^ <>]*:arm64$' | sort -u)
    mapfile -t pre < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances python3.11:arm64 libstdc++6:arm64 \
        | grep -E '^[a-z0-9][^ <>]*:arm64$' | sort -u)
    all=$(printf '%s\n' "${pkgs[@]}" "${pre[@]}" | grep -vE '^(debconf|dpkg|perl-base|install-info|media-types|tzdata)' | sort -u)
    (cd "$debs" && apt-get download -qq $all >/dev/null)
    mkdir -p "$sysroot"
    for d in "$debs"/*.deb; do dpkg -x "$d" "$sysroot"; done
    rm -rf "$debs"
    echo "test-deps: aarch64 python3.11 in $sysroot ($(ls "$sysroot/usr/bin" | grep -c python) python binaries)" >&2
fi
