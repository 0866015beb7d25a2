# Multi-stage: the .NET SDK builds and publishes; a slim runtime image with tcmalloc runs the tool.
# CPU by default; --build-arg TORCH_BACKEND=cuda builds against TorchSharp-cuda-linux instead.
ARG TORCH_BACKEND=cpu

FROM mcr.microsoft.com/dotnet/sdk:10.0-bookworm-slim AS build
ARG TORCH_BACKEND
WORKDIR /src
COPY . .
# A C compiler first: the build compiles the bf16 decoding kernel (src/TranslationTrainer/Model/Native) with it.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
RUN dotnet publish src/TranslationTrainer.Cli -c Release -o /app -p:TorchBackend=${TORCH_BACKEND}
# MKL's vendor check answered "Intel", so that it runs its AVX2/AVX-512 kernels on AMD CPUs too (docs/performance.md, "MKL's fast kernels on AMD CPUs").
RUN mkdir -p /app/native && gcc -shared -fPIC -O2 -o /app/native/libmkl-intel-cpu.so scripts/native/mkl-intel-cpu.c

# The ASP.NET Core runtime: `serve` runs on Kestrel.
FROM mcr.microsoft.com/dotnet/aspnet:10.0-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libtcmalloc-minimal4 libgomp1 fonts-dejavu-core mpich \
 && rm -rf /var/lib/apt/lists/*
# tcmalloc keeps libtorch's memory flat over long runs (see docs/performance.md, "Memory: tcmalloc"); `plot` draws its text with DejaVu;
# MPICH runs distributed training (README, "Distributed training"): mpiexec.mpich -n N /app/translation-trainer train ...
ENV LD_PRELOAD=/app/native/libmkl-intel-cpu.so:/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
COPY --from=build /app /app
WORKDIR /work
ENTRYPOINT ["/app/translation-trainer"]
# By default the image serves the run directory mounted at /model (README, "Serving"):
#   docker run -p 8080:8080 -v $PWD/runs/bible:/model IMAGE
# Any other command replaces it: docker run IMAGE translate --checkpoint /model ...
EXPOSE 8080
CMD ["serve", "--checkpoint", "/model", "--host", "0.0.0.0", "--port", "8080"]
