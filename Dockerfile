# syntax=docker/dockerfile:1
# Framecast in one image: every role (api, worker, live) is in it; FRAMECAST_ROLES picks.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# A toolchain for better-sqlite3, in case no prebuilt binary matches this platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY config ./config
COPY core ./core
COPY storage-adapters ./storage-adapters
COPY transcription-adapters ./transcription-adapters
COPY live ./live
COPY plugins ./plugins
COPY web ./web
# The optional ffmpeg-static goes too: the image uses Debian's ffmpeg.
RUN npm run build \
 && npm prune --omit=dev --omit=optional

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    FRAMECAST_DATA_DIR=/data \
    FFMPEG_PATH=/usr/bin/ffmpeg \
    FFPROBE_PATH=/usr/bin/ffprobe
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/config ./config
COPY --from=build /app/web ./web
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080 1935
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.FRAMECAST_HTTP_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Run the build directly: `npm start` would first look for sources to rebuild.
CMD ["node", "dist/core/main.js"]
