# A stand-in for rust:1.95-bookworm, the build stage of the repository's
# Dockerfile, built by scripts/compose-drill where a registry cannot be
# reached: Debian with the build essentials, this machine's Rust toolchain
# (with its wasm32 target), the cargo tools scripts/setup built
# (cargo-leptos, wasm-bindgen-cli: `cargo install` finds them installed and
# skips them) and this machine's CA certificates, without which the build
# reaches no package registry here. The context is assembled by the drill.
FROM debian:bookworm-slim
LABEL canvas.standin=true
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev make pkg-config git curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY ca-certificates.crt /usr/local/share/ca-certificates/this-machine.crt
RUN update-ca-certificates >/dev/null
COPY rustup /usr/local/rustup
COPY cargo /usr/local/cargo
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
