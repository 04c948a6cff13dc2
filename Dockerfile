# The function's image. `fn build` / `fn deploy` build with this file when it exists (func.yaml: runtime docker),
# in place of the Dockerfile the fn CLI writes for its python runtime, which installs every dependency whole
# (~600 MB, ~500 of them the oci SDK's 180 services). The same two stages on the same fn base images, but /python
# is laid out by `deploy/image_tree.py build`, the step `make image-tree` runs and CI tests (`make image-test`):
# `pip install --require-hashes` from requirements.lock, pruned to what the function imports (deploy/image/keep.txt),
# checked that nothing kept imports what was removed; the byte screen of the shape stage is compiled beside it
# (`deploy/image_tree.py native`). The build context is what .dockerignore lets through.
FROM fnproject/python:3.11-dev AS build-stage
WORKDIR /build
COPY requirements.lock ./
COPY deploy/image_tree.py deploy/
COPY deploy/image/keep.txt deploy/image/
COPY native/screen.c native/
ENV PIP_NO_CACHE_DIR=1
RUN python3 deploy/image_tree.py build /python && chmod -R o+rX /python
# The shape stage's byte screen in C (the fn python -dev image carries gcc and the Python headers). The package falls
# back to its Python screen without it, so a failure here must fail the build, not be left unnoticed.
RUN python3 deploy/image_tree.py native /screen && chmod -R o+rX /screen

FROM fnproject/python:3.11
WORKDIR /function
COPY --from=build-stage /python /python
COPY func.py /function/
COPY logzio_forwarder /function/logzio_forwarder
COPY --from=build-stage /screen/ /function/logzio_forwarder/pipeline/
RUN chmod -R o+rX /function
ENV PYTHONPATH=/function:/python
ENTRYPOINT ["/python/bin/fdk", "/function/func.py", "handler"]
