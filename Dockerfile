# syntax=docker/dockerfile:1
# capstan runs its TypeScript directly on Node 24 (type stripping): no build stage is
# needed, only an install stage that never reaches the final image's toolchain.
# CI cannot build images (no Docker engine), so .ci/run repeats these exact install and
# start steps in a scratch folder and checks that /healthz answers.

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only: no TypeScript, vitest, Biome or the dev-time Node binary.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production
# Heap limits for a long-running controller in the 512 MiB container of deploy/: without
# them V8 sizes its heap from the host's memory and, mid-pass, RSS peaks at several times
# what the heap holds. --expose-gc lets `capstan run` give memory back after each pass
# (src/controller/memory.ts). bench/run-steady.ts measures capstan with exactly these
# options. The young generation gets 16 MB semi-spaces: a pass allocates much that dies
# young, and with 4 MB too much of it was promoted and collected again, which at 10,000
# resources was half a pass's CPU (bench/run-shards.ts: 6.3 s a pass, 3.4 s with 16 MB,
# for +6 MB of RSS at 1,000). For fleets far beyond 10,000 resources raise
# --max-old-space-size (the heap holds ~60 MB at 1,000, ~130 MB at 10,000), or shard.
ENV NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=16 --expose-gc"
WORKDIR /app
# git is what `capstan run --git` polls specs with.
RUN apt-get update \
  && apt-get install -y --no-install-recommends git ca-certificates \
  && rm -rf /var/lib/apt/lists/*
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY schemas ./schemas
# The image's own non-root user; capstan needs no privileges and writes only its state
# folder (a file lease, its state file, the git working folder) under /tmp: the default
# state folder is $XDG_STATE_HOME/capstan.
ENV XDG_STATE_HOME=/tmp
USER node
EXPOSE 8080
ENTRYPOINT ["node", "src/cli/capstan.ts"]
CMD ["run", "--specs", "/specs", "--port", "8080"]
