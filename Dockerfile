# Metronome against a remote ClickHouse (see docker-compose.yml). The embedded engine (chdb)
# needs no container: `npm install && npm start`.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm install, not npm ci: see README (the lock lists only one platform's optional native packages).
RUN npm install --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
# A 64 MiB young generation, as `npm start` runs it: less GC on ingest (docs/benchmarks.md).
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 NODE_OPTIONS=--max-semi-space-size=32
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/schema ./schema
COPY --from=build /app/web/dist ./web/dist
EXPOSE 8080
USER node
CMD ["node", "dist/server/main.js"]
