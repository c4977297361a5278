# syntax=docker/dockerfile:1
# Build stage: install production dependencies only (bcrypt's prebuilt binary comes with the package).
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# prepare (console/build.ts) finds no bundler in a production install and builds nothing.
COPY console/build.ts ./console/
RUN npm ci --omit=dev && npm cache clean --force

# Console stage: the admin console's bundle, built with the dev dependencies (esbuild, Lit).
FROM node:24-bookworm-slim AS console
WORKDIR /app
COPY package.json package-lock.json ./
COPY console ./console
RUN npm ci --no-audit --no-fund

# Runtime stage: no build tools, no dev dependencies, non-root user.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    DATA_DIR=/var/lib/svcauth/data \
    KEYS_DIR=/var/lib/svcauth/keys \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY config ./config
COPY migrations ./migrations
COPY src ./src
COPY --from=console /app/console/dist ./console/dist
RUN mkdir -p /var/lib/svcauth/data /var/lib/svcauth/keys && chown -R node:node /var/lib/svcauth
USER node
EXPOSE 3000
VOLUME ["/var/lib/svcauth"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Same command as the README's `npm start`; the CLI is `docker run ... node bin/svcauth.js <command>`.
CMD ["node", "src/main.ts"]
