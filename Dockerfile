# syntax=docker/dockerfile:1
# Canvas: built with cargo-leptos in release, run as a non-root user on a
# slim image. The build stage installs the same pinned tools as
# scripts/setup.

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add wasm32-unknown-unknown \
 && cargo install cargo-leptos --version 0.3.10 --locked
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock exactly.
RUN version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock) \
 && cargo install wasm-bindgen-cli --version "$version"
COPY end2end/package.json end2end/package-lock.json end2end/
RUN cd end2end && npm ci --no-audit --no-fund
ENV PATH=/src/end2end/node_modules/.bin:$PATH
COPY . .
RUN cargo leptos build --release

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home canvas
COPY --from=build /src/target/release/canvas-server /src/target/release/hash.txt /usr/local/bin/
COPY --from=build /src/target/site /app/site
ENV APP_HOST=0.0.0.0 \
    APP_PORT=3000 \
    LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_OUTPUT_NAME=canvas \
    LEPTOS_ENV=PROD \
    RUST_LOG=info
USER canvas
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD curl -fs http://127.0.0.1:3000/healthz || exit 1
CMD ["canvas-server"]
