# syntax=docker/dockerfile:1
# workload-ca: the packed npm package with production dependencies on Node 20, run as
# a non-root user. Works with a read-only root filesystem and no writable /tmp; only
# /run/workload-ca (the admin socket's folder) must be writable:
#
#   docker build -t workload-ca .
#   docker run --read-only -v "$PWD/config.yaml:/etc/workload-ca/config.yaml:ro" \
#     -p 8234:8234 -p 8235:8235 workload-ca
#
# test/ship/image.test.ts runs this file's ENTRYPOINT/CMD and HEALTHCHECK outside a
# container the same way (other user, read-only tree, no writable temp directory).

# Base images: one exact Node release for both stages (the one the test suite runs on), so a
# rebuild does not drift to another patch release. Pin by digest too where you build, e.g.
#   docker build --build-arg NODE_IMAGE=node:20.20.2-bookworm@sha256:<digest> \
#                --build-arg NODE_RUNTIME_IMAGE=node:20.20.2-bookworm-slim@sha256:<digest> .
# (`docker buildx imagetools inspect node:20.20.2-bookworm` prints the digest); the digest
# is not written here because it cannot be checked from where this file is maintained.
ARG NODE_IMAGE=node:20.20.2-bookworm
ARG NODE_RUNTIME_IMAGE=node:20.20.2-bookworm-slim

# Build: TypeScript and a C++ toolchain (pkcs11js) live only here. `npm pack` runs
# prepack (a clean build) and keeps exactly the files the package ships.
#
# Install scripts: none run but pkcs11js's native build. The image's npm (10) ignores the
# package.json `allowScripts` field, which is npm's own (npm >= 11.16: the dependencies
# whose install scripts may run, `true`/`false`/pinned `name@version`; advisory first,
# enforced in later releases). So `--ignore-scripts` everywhere, then `npm rebuild` of the one
# approved addon. The image keeps pkcs11js: the `pkcs11` upstream (a network HSM's PKCS#11
# module mounted into the container) needs it, and its build runs only here. The other
# packages with install scripts (esbuild, protobufjs) need none of theirs to work.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm pack --pack-destination /tmp \
 && mkdir /app \
 && tar -xzf /tmp/workload-ca-*.tgz -C /app --strip-components=1 \
 && cp package-lock.json /app/ \
 && cd /app \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild pkcs11js \
 && rm package-lock.json

# Run: Node, the package and its production dependencies (with the optional vendor SDKs).
FROM ${NODE_RUNTIME_IMAGE}
COPY --from=build /app /app
RUN mkdir -p /etc/workload-ca /run/workload-ca \
 && chown 65532:65532 /run/workload-ca \
 && chmod 0700 /run/workload-ca
WORKDIR /app
ENV NODE_ENV=production \
    WCA_CONFIG=/etc/workload-ca/config.yaml \
    WCA_ADMIN_LISTEN=unix:/run/workload-ca/admin/admin.sock
USER 65532:65532
VOLUME ["/run/workload-ca"]
EXPOSE 8234 8235
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "dist/src/cli/main.js", "healthcheck"]
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
