# session-authority: gRPC on 50051, HTTP side port (metrics, probes, JWKS) on 8080.
# CI replays these steps without Docker (test/e2e/dockerfile.test.ts); keep
# every instruction to FROM, WORKDIR, ENV, COPY, RUN, USER, VOLUME, EXPOSE,
# ENTRYPOINT and CMD so the replay understands it.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc buf.yaml tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY proto ./proto
COPY third_party ./third_party
COPY clients/service-config.json ./clients/
# prepare runs `npm run generate:server`: Prisma client, descriptor set, proto types.
RUN npm ci
COPY src ./src
COPY clients/ts/src ./clients/ts/src
RUN npm run build

FROM node:20-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts
COPY --from=build /app/dist ./dist
COPY proto ./proto
COPY third_party ./third_party
COPY prisma/migrations ./prisma/migrations
RUN mkdir -p /var/lib/session-authority && chown node:node /var/lib/session-authority
# Binding all interfaces requires API_KEYS (the server refuses to start otherwise).
ENV GRPC_HOST=0.0.0.0 HTTP_HOST=0.0.0.0 DATA_DIR=/var/lib/session-authority
# Memory (npm run bench, 100,000 sessions under a steady refresh + verify load):
# Node's defaults let the V8 heap and glibc's per-thread arenas grow to
# 230-300 MB RSS; with these, 183-192 MB and flat. glibc raises its trim and
# mmap thresholds as large blocks are freed, so the ~20 MB that start-up
# frees stayed in the process; fixed thresholds give it back. That room pays
# for young-generation semi-spaces of 8 MB instead of 4: twice the room
# between scavenges at the same allocation rate, ~15 % less server CPU per
# refresh (issue 19; 16 MB went over 200 MB RSS).
# The old-space cap must stay above the live heap plus the revocation
# window held at once: 128 MB ran out of heap (the process died) answering
# GetRevocationSnapshot after 100,000 sessions were revoked inside the
# window; 256 MB answered it. Raise it with the memory limit if more are.
# PGlite (the default without DATABASE_URL) keeps its own WebAssembly
# memory, which this cap does not bound and the figures above do not cover.
ENV MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=131072 NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=8"
USER node
VOLUME /var/lib/session-authority
EXPOSE 50051 8080
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve"]
