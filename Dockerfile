# syntax=docker/dockerfile:1
# ghostunnel-ts in a container (docs/docker.md):
#   docker build -t ghostunnel-ts .
#   docker run --rm -v "$PWD/certs:/etc/ghostunnel:ro" -p 8443:8443 ghostunnel-ts server \
#     --listen 0.0.0.0:8443 --target app:8080 --unsafe-target \
#     --cert /etc/ghostunnel/server.crt --key /etc/ghostunnel/server.key \
#     --cacert /etc/ghostunnel/ca.crt --allow-cn client --auto-reload --status http://127.0.0.1:8444

# Build stage: the bundler (esbuild), the data plane (native/) and the PKCS#11 addon need the
# development dependencies and a C++ toolchain, none of which reaches the final image.
FROM node:24-bookworm-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/build-native-addons.mjs scripts/
COPY binding.gyp ./
COPY native/ native/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.mjs scripts/
COPY src/ src/
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Final stage: Node.js, the compiled JavaScript, the production dependencies; no compiler, no
# sources, no shell tools beyond the base image's.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    GHOSTUNNEL_STATUS_URL=http://127.0.0.1:8444/_status
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY --from=build /app/dist/ dist/
COPY --from=build /app/build/Release/ghostunnel_engine.node build/Release/
COPY bin/ bin/
COPY proto/ proto/
# Certificates come from the host or an orchestrator, mounted read-only here
# (-v /path/to/certs:/etc/ghostunnel:ro); --auto-reload or SIGHUP picks up replaced files.
VOLUME ["/etc/ghostunnel"]
# The base image's unprivileged "node" user, by number so that Kubernetes' runAsNonRoot can check it.
USER 1000:1000
EXPOSE 8443 8444
# Healthy while /_status answers 200 (listening, and the backend reachable). The base image has no
# curl; Node's fetch does it. Point GHOSTUNNEL_STATUS_URL elsewhere if --status is not
# http://127.0.0.1:8444.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["node", "-e", "fetch(process.env.GHOSTUNNEL_STATUS_URL, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
# Exec form, no shell: Node.js is PID 1 and gets docker's signals itself. Its handlers make SIGHUP
# reload, SIGTERM and SIGINT drain (exit 0), SIGUSR2 hand off; a PID 1 without handlers would
# ignore them. `docker stop` waits 10 s by default before SIGKILL: give it
# --stop-timeout/-t longer than --shutdown-timeout.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/bin/ghostunnel"]
CMD ["--help"]
