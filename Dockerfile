# convo-hooks: build once with the dev dependencies, ship dist/ and migrations/ with the
# production dependencies only. See docs/production-install.md.
# A test (test/faults/production-install.test.ts) copies what this file copies and starts the result.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The dashboard's sources: `npm run build` bundles them into dist/dashboard/ (vite).
COPY web ./web
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
# The image's own unprivileged user: the service writes nothing to disk.
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself as PID 1 receives SIGTERM and drains (SHUTDOWN_GRACE_MS); give `docker stop`
# a longer timeout than that (docker stop -t, or stop_grace_period in compose).
CMD ["node", "dist/main.js"]
