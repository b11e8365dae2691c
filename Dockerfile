# One image per service, all from this file: pick the service with --target.
#
#   docker build --target token        -t first-party-auth/token .
#   docker build --target registration -t first-party-auth/registration .
#   docker build --target challenge    -t first-party-auth/challenge .
#   docker build --target federation   -t first-party-auth/federation .
#   docker build --target cli          -t first-party-auth/cli .   # migrations, clients, keys, sessions
#   (also: standalone, sample-api; without --target you get standalone, the last stage)
#
# Stages: `build` (every dependency, swc build) → `prod-deps` (production dependencies only) →
# `runtime` (node, dist/ and the production node_modules, non-root, no package manager) → one small
# stage per service that only names its entry point. BuildKit builds the shared stages once.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies (swc is a devDependency), then `npm run build` → dist/ ----------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY .swcrc tsconfig.json ./
COPY apps ./apps
COPY libs ./libs
COPY tools ./tools
RUN npm run build

# ---- prod-deps: production dependencies only, from the same lock file ------------------------------
# --ignore-scripts: no production dependency needs an install script (the only one declaring one is
# @scarf/scarf, install analytics); keeps the install offline-clean and reproducible.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: what every service image shares -----------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# Nothing but node runs here: drop npm, npx, corepack and yarn that the base image ships.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production \
    APP_MODE=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# Owned by root and read-only for the app user: the process cannot change its own code. In production
# the apps write nothing to disk (logs go to stdout), so a read-only root filesystem works as is.
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=build /src/dist/libs ./dist/libs
COPY --from=build /src/dist/apps ./dist/apps
# The official node image's `node` user, numeric so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 3000
# No curl in the image: node itself asks /health/live (the process is up and serving HTTP).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "require('http').get({host:'127.0.0.1',port:process.env.PORT||3000,path:'/health/live',timeout:2000},(r)=>process.exit(r.statusCode===200?0:1)).on('timeout',()=>process.exit(1)).on('error',()=>process.exit(1))"]

# ---- one stage per service ---------------------------------------------------------------------------
# Exec-form ENTRYPOINT: node itself is PID 1 (not the base image's docker-entrypoint.sh, not npm, no
# shell), so SIGTERM reaches the app's graceful shutdown. Same V8 flag as the npm start scripts.
FROM runtime AS registration
ENTRYPOINT ["node", "--max-semi-space-size=16", "--heap-growing-percent=30", "dist/apps/registration/src/main.js"]

FROM runtime AS token
ENTRYPOINT ["node", "--max-semi-space-size=16", "--heap-growing-percent=30", "dist/apps/token/src/main.js"]

FROM runtime AS challenge
ENTRYPOINT ["node", "--max-semi-space-size=16", "--heap-growing-percent=30", "dist/apps/challenge/src/main.js"]

FROM runtime AS federation
ENTRYPOINT ["node", "--max-semi-space-size=16", "--heap-growing-percent=30", "dist/apps/federation/src/main.js"]

FROM runtime AS sample-api
ENTRYPOINT ["node", "--max-semi-space-size=16", "--heap-growing-percent=30", "dist/apps/sample-api/src/main.js"]

# The administration CLI: a one-shot process, no HTTP, so no health check. Arguments replace CMD:
#   docker run --rm --env-file … first-party-auth/cli client list
FROM runtime AS cli
HEALTHCHECK NONE
ENTRYPOINT ["node", "dist/apps/cli/src/main.js"]
CMD ["migration", "run"]

# Last stage = the default target. APP_MODE=production here too: it needs PostgreSQL and Redis
# (the embedded default, PGlite on disk, is `npm start`, not this image).
FROM runtime AS standalone
ENTRYPOINT ["node", "--max-semi-space-size=16", "--heap-growing-percent=30", "dist/apps/standalone/src/main.js"]
