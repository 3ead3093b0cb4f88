# syntax=docker/dockerfile:1
# The tricycle image: one static binary on a distroless base, run as a
# non-root user, with no shell and no package manager inside.
#
#   docker build -t ghcr.io/tricyclehq/tricycle:0.1.0 .
#   docker run --rm -p 127.0.0.1:8080:8080 ghcr.io/tricyclehq/tricycle:0.1.0
#
# The same image runs every role: `serve --role gateway|experiments|coordinator`.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOOS=linux
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/tricycle ./cmd/tricycle \
 && go version -m /out/tricycle | grep -q 'CGO_ENABLED=0' \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="tricycle" \
      org.opencontainers.image.description="The three-version self-evolving cycle of an AI code review platform"
COPY --from=build /out/tricycle /usr/local/bin/tricycle
COPY --from=build --chown=65532:65532 /out/data /var/lib/tricycle
USER 65532:65532
WORKDIR /var/lib/tricycle
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tricycle"]
CMD ["serve", "--addr", "0.0.0.0:8080", "--data-dir", "/var/lib/tricycle", "--db", "sqlite:/var/lib/tricycle/tricycle.db"]
