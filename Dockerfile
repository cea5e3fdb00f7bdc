# deskdraft image: the binary, its prompts and demo knowledge, and the embedding model (fetched at
# build time by the project's own script, so the container needs no network at run time).
FROM rust:1-bookworm AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null \
    && rustup toolchain install nightly --profile minimal
WORKDIR /src
COPY . .
# scripts/toolchain.sh picks the default Rust if it is >= 1.96, else the nightly installed above.
RUN bash -c 'source scripts/toolchain.sh && cargo build --release --bin deskdraft' \
    && bash scripts/fetch-model.sh

FROM debian:bookworm-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ca-certificates >/dev/null \
    && rm -rf /var/lib/apt/lists/* && useradd --create-home deskdraft
COPY --from=build /src/target/release/deskdraft /usr/local/bin/deskdraft
COPY --from=build /src/models /opt/deskdraft/models
COPY --from=build /src/prompts /opt/deskdraft/prompts
COPY --from=build /src/knowledge /opt/deskdraft/knowledge
ENV DESKDRAFT_EMBEDDING__MODEL_DIR=/opt/deskdraft/models/all-MiniLM-L6-v2 \
    DESKDRAFT_DRAFTING__PROMPTS_DIR=/opt/deskdraft/prompts \
    DESKDRAFT_DATA_DIR=/data
RUN mkdir -p /data && chown deskdraft /data
USER deskdraft
VOLUME ["/data"]
ENTRYPOINT ["deskdraft"]
CMD ["serve"]
