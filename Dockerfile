# syntax=docker/dockerfile:1
# The image the Helm chart runs (helm/hotlist-matcher). Not built in CI here:
# this project's machines have no container runtime; see "Deploy with Helm"
# in README.md.
#
#   docker build -t registry.example.org/coachella/hotlist-matcher:0.1.0 .

# Build: the release binary, from the locked dependencies. librdkafka is
# compiled from source by rdkafka-sys (its configure script and make);
# OpenSSL is linked dynamically (the runtime image has libssl3), zlib
# statically (it has none).
FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV LIBZ_SYS_STATIC=1
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin hotlist-matcher \
 && install -D -m 0755 target/release/hotlist-matcher /out/hotlist-matcher

# Run: distroless (glibc, libssl3, CA certificates; no shell, no package
# manager), as the non-root user 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/hotlist-matcher /usr/local/bin/hotlist-matcher
USER 65532:65532
# The HTTPS API and the admin port (/metrics, /healthz, /readyz).
EXPOSE 8443 9464
ENTRYPOINT ["/usr/local/bin/hotlist-matcher"]
CMD ["serve"]
