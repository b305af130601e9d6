#!/usr/bin/env bash
# Talks to `vqkit serve` with curl, exactly as to TensorFlow Serving's REST API.
#   vqkit serve --model vq_vae=path/to/tokenizer &      # port 8501
#   examples/serve/curl.sh photo.jpg                      # writes compressed.bin and decompressed.png
# Needs curl, base64 and jq. VQKIT_URL and MODEL override the server and model name.
set -euo pipefail
image=${1:?usage: curl.sh IMAGE}
url=${VQKIT_URL:-http://localhost:8501}
model=${MODEL:-vq_vae}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== status"
curl -sS "$url/v1/models/$model"; echo
echo "== signatures"
curl -sS "$url/v1/models/$model/metadata" | jq -c '.metadata.signature_def.signature_def | to_entries[] | {signature: .key, inputs: (.value.inputs | keys), outputs: (.value.outputs | keys)}'

echo "== compress $image"
# Row format, the image as a plain base64 string ({"b64": "..."} works too).
printf '{"instances": [{"image": "%s"}]}' "$(base64 -w0 "$image")" > "$work/compress.json"
curl -sS -d @"$work/compress.json" "$url/v1/models/$model:predict" > "$work/compressed.json"
jq -r '.predictions[0].compressed' "$work/compressed.json" | base64 -d > compressed.bin
jq -c '.predictions[0] | {shape, bpp}' "$work/compressed.json"
echo "compressed.bin: $(wc -c < compressed.bin) bytes"

echo "== decompress compressed.bin"
# Columnar format this time.
printf '{"signature_name": "decompress", "inputs": {"compressed": ["%s"]}}' "$(base64 -w0 compressed.bin)" > "$work/decompress.json"
curl -sS -d @"$work/decompress.json" "$url/v1/models/$model:predict" | jq -r '.outputs.image[0].b64' | base64 -d > decompressed.png
echo "decompressed.png: $(wc -c < decompressed.png) bytes"

echo "== an error: unknown signature (HTTP 404, {\"error\": ...})"
curl -sS -w ' (HTTP %{http_code})\n' -d '{"signature_name": "nope", "instances": []}' "$url/v1/models/$model:predict"

# With a prior (`vqkit serve --model vq_vae=TOKENIZER --prior vq_vae=PRIOR`), sample an image:
#   curl -sS -d '{"signature_name": "generate", "instances": [{"class": 7, "temperature": 0.9, "seed": 1}]}' \
#     "$url/v1/models/$model:predict" | jq -r '.predictions[0].image.b64' | base64 -d > sample.png
