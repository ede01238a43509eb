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

# Build: TypeScript and a C++ toolchain (pkcs11js) live only here. `npm pack` runs
# prepack (a clean build) and keeps exactly the files the package ships.
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm pack --pack-destination /tmp \
 && mkdir /app \
 && tar -xzf /tmp/workload-ca-*.tgz -C /app --strip-components=1 \
 && cp package-lock.json /app/ \
 && cd /app \
 && npm ci --omit=dev --no-audit --no-fund \
 && rm package-lock.json

# Run: Node, the package and its production dependencies (with the optional vendor SDKs).
FROM node:20-bookworm-slim
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
