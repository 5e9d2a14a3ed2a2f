# syntax=docker/dockerfile:1
# marketing-hub: the API (`serve`, the default), the job worker (`worker`) or any CLI command.
#   docker build -t marketing-hub .
#   docker run -p 8105:8105 -v mh-data:/var/lib/marketing-hub marketing-hub          (embedded database)
#   docker compose up                          (API + worker + PostgreSQL + Redis: compose.yaml)
# docs/operations.md ("Build and deploy") says what each stage does and how the image's files are checked.

# --- build: every dependency, the TypeScript compiled to dist/, the landing page and the console built
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: `prepare` builds the front ends from sources not copied yet (`npm run build` does it).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY web ./web
RUN npm run build

# --- runtime: production dependencies and the built files only, as the unprivileged `node` user
FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    MARKETING_HUB_RUN=dist \
    MARKETING_DATA_DIR=/var/lib/marketing-hub \
    PORT=8105
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY proto ./proto
COPY --from=build /app/dist ./dist
COPY --from=build /app/web/landing/dist ./web/landing/dist
COPY --from=build /app/web/admin/dist ./web/admin/dist
# The embedded database (when DATABASE_URL is unset) and the sealing key (when MARKETING_SECRET_KEY is unset).
RUN mkdir -p /var/lib/marketing-hub && chown node:node /var/lib/marketing-hub
VOLUME ["/var/lib/marketing-hub"]
USER node
EXPOSE 8105 9105
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8105) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/marketing-hub.js"]
CMD ["serve"]
