"""The gRPC side of the pyalign plugin, written from plugins/proto/clipeval/v2/clipeval.proto alone.

It serves clipeval.v2.Task, grpc.health.v1.Health (service "plugin": SERVING) and the two small services go-plugin's
Go client calls on every plugin: plugin.GRPCController/Shutdown (so that the harness can end the plugin gracefully)
and plugin.GRPCStdio/StreamStdio (answered with an empty stream: logs go to stderr, which the harness reads).
Handlers are registered with grpc.method_handlers_generic_handler; no generated service stubs are needed.
"""

import itertools
import logging
import os
import sys
import threading
import time
import traceback
from concurrent import futures

import grpc

import align
import clipeval_pb2 as pb
import health_pb2

PROTOCOL_VERSION = 2
# CHUNK_BYTES bounds one message of Load's and Score's answer streams, as the contract says (4 MiB).
CHUNK_BYTES = 4 << 20
# PER_ITEM is protobuf's framing overhead of one repeated element, counted generously.
PER_ITEM = 16
# MAX_MESSAGE_BYTES is the gRPC message limit both ends accept.
MAX_MESSAGE_BYTES = 256 << 20

log = logging.getLogger(align.NAME)


def _fields(decls):
    out = []
    for name, typ, required, help_, extra in decls:
        f = pb.Field(name=name, type=typ, required=required, help=help_, choices=extra.get("choices", []))
        if "min" in extra:
            f.min = extra["min"]
        if "max" in extra:
            f.max = extra["max"]
        out.append(f)
    return out


def load_chunks(ds_id, ds):
    """Yields the LoadChunks of a dataset: the header first, then images and texts, each chunk under CHUNK_BYTES."""
    chunk = pb.LoadChunk(header=pb.DatasetHeader(
        id=ds_id, size=len(ds.paths), images=len(ds.paths), texts=len(ds.captions), files=[ds.manifest],
        skipped_images=len(ds.skipped),
        description="%d images, %d captions from %s" % (len(ds.paths), len(ds.captions), ds.manifest)))
    size = chunk.ByteSize()
    root = os.path.dirname(ds.manifest)
    for path in ds.paths:
        im = pb.Image(path=path, root=root)  # opened beneath the manifest's folder, never through a link out of it
        n = im.ByteSize() + PER_ITEM
        if size + n > CHUNK_BYTES:
            yield chunk
            chunk, size = pb.LoadChunk(), 0
        chunk.images.append(im)
        size += n
    for text in ds.captions:
        n = len(text.encode("utf-8")) + PER_ITEM
        if n > CHUNK_BYTES:
            raise align.InputError("a caption is %d bytes, more than a chunk's %d" % (n, CHUNK_BYTES))
        if size + n > CHUNK_BYTES:
            yield chunk
            chunk, size = pb.LoadChunk(), 0
        chunk.texts.append(text)
        size += n
    for image, why in ds.skipped:
        sk = pb.SkippedImage(image=image, error=why[:1 << 16])
        n = sk.ByteSize() + PER_ITEM
        if size + n > CHUNK_BYTES:
            yield chunk
            chunk, size = pb.LoadChunk(), 0
        chunk.skipped_images.append(sk)
        size += n
    yield chunk


def _metric(name, value, direction, unit, help_, item_count=0):
    return pb.Metric(name=name, value=value, direction=direction, unit=unit, help=help_, item_count=item_count)


def score_chunks(ds, result):
    """Yields the ScoreChunks of a result: header, predictions, item values, each chunk under CHUNK_BYTES."""
    hits = result["hits"]
    header = pb.ScoresHeader(mode="zero-shot", headline=["image_to_text_top1", "similarity_gap"],
                             predictions=len(ds.paths))
    header.metrics.extend([
        _metric("image_to_text_top1", result["top1"], pb.HIGHER_IS_BETTER, pb.FRACTION,
                "share of images whose most similar caption is one of their own", item_count=len(hits)),
        _metric("matched_similarity", result["matched"], pb.HIGHER_IS_BETTER, pb.VALUE,
                "mean cosine similarity of each caption with its own image"),
        _metric("mismatched_similarity", result["mismatched"], pb.INFORMATIONAL, pb.VALUE,
                "mean cosine similarity of every caption with every other image"),
        _metric("similarity_gap", result["gap"], pb.HIGHER_IS_BETTER, pb.VALUE,
                "matched_similarity minus mismatched_similarity"),
        _metric("pairs", float(result["pairs"]), pb.INFORMATIONAL, pb.COUNT, "number of matched image-caption pairs"),
    ])
    chunk = pb.ScoreChunk(header=header)
    size = chunk.ByteSize()
    first = {}
    for j, i in enumerate(ds.owner.tolist()):
        first.setdefault(i, j)
    for i, (name, j) in enumerate(zip(ds.names, result["top"].tolist())):
        p = pb.Prediction(item=name, truth=ds.captions[first[i]], predicted=ds.captions[j], correct=bool(hits[i]))
        n = p.ByteSize() + PER_ITEM
        if size + n > CHUNK_BYTES:
            yield chunk
            chunk, size = pb.ScoreChunk(), 0
        chunk.predictions.append(p)
        size += n
    values = hits.tolist()
    name = "image_to_text_top1"
    off = 0
    while off < len(values):
        room = (CHUNK_BYTES - size - len(name) - 3 * PER_ITEM) // 8
        if room < 1024:
            yield chunk
            chunk, size = pb.ScoreChunk(), 0
            continue
        end = min(len(values), off + room)
        chunk.item_values.append(pb.ItemValues(metric=name, offset=off, values=values[off:end]))
        size += len(name) + 3 * PER_ITEM + 8 * (end - off)
        off = end
    yield chunk


class Task:
    """The clipeval.v2.Task service: Describe, Load and Score."""

    def __init__(self):
        self._lock = threading.Lock()
        self._datasets = {}
        self._ids = itertools.count(1)

    def describe(self, request, context):
        return pb.PluginInfo(name=align.NAME, version=align.VERSION, description=align.DESCRIPTION,
                             protocol_version=PROTOCOL_VERSION, option_fields=_fields(align.OPTION_FIELDS),
                             dataset_fields=_fields(align.DATASET_FIELDS))

    def load(self, request, context):
        ds = align.load(request.dataset_json, request.options_json, request.skip_bad_images)
        with self._lock:
            ds_id = "pyalign-%d" % next(self._ids)
            self._datasets[ds_id] = ds
        log.info("loaded %s: %d images, %d captions", ds_id, len(ds.paths), len(ds.captions))
        yield from load_chunks(ds_id, ds)

    def score(self, request, context):
        with self._lock:
            ds = self._datasets.get(request.dataset_id)
        if ds is None:
            raise UnknownDataset("unknown dataset id %r: Load it first" % request.dataset_id)
        img, txt = request.image_embeddings, request.text_embeddings
        images = align.open_embeddings("image", img.path, img.rows, img.cols, len(ds.paths))
        texts = align.open_embeddings("text", txt.path, txt.rows, txt.cols, len(ds.captions))
        ds, images, texts = align.without(ds, images, texts, list(request.skipped_images))
        result = align.score(ds, images, texts)
        yield from score_chunks(ds, result)


class UnknownDataset(LookupError):
    """Score was called with a dataset id no Load returned."""


def _fail(context, err):
    """Ends a call with the status err calls for: the caller's mistake, or an unexpected error (logged)."""
    if isinstance(err, align.InputError):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
    if isinstance(err, UnknownDataset):
        context.abort(grpc.StatusCode.NOT_FOUND, str(err))
    log.error("internal error:\n%s", traceback.format_exc())
    context.abort(grpc.StatusCode.UNKNOWN, "%s internal error: %s: %s" % (align.NAME, type(err).__name__, err))


def _guard(fn, streaming):
    """Wraps a handler so that every exception it raises becomes a gRPC status with a message."""
    if streaming:
        def stream(request, context):
            try:
                yield from fn(request, context)
            except Exception as err:  # pylint: disable=broad-except
                _fail(context, err)
        return stream

    def unary(request, context):
        try:
            return fn(request, context)
        except Exception as err:  # pylint: disable=broad-except
            _fail(context, err)
    return unary


def _raw(b):
    return b


def handlers(task, health, shutdown):
    """Returns the generic handlers of every service the plugin serves."""
    unary, stream = grpc.unary_unary_rpc_method_handler, grpc.unary_stream_rpc_method_handler
    task_service = grpc.method_handlers_generic_handler("clipeval.v2.Task", {
        "Describe": unary(_guard(task.describe, False), request_deserializer=pb.DescribeRequest.FromString,
                          response_serializer=pb.PluginInfo.SerializeToString),
        "Load": stream(_guard(task.load, True), request_deserializer=pb.LoadRequest.FromString,
                       response_serializer=pb.LoadChunk.SerializeToString),
        "Score": stream(_guard(task.score, True), request_deserializer=pb.ScoreRequest.FromString,
                        response_serializer=pb.ScoreChunk.SerializeToString),
    })
    health_service = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": unary(health.check, request_deserializer=health_pb2.HealthCheckRequest.FromString,
                       response_serializer=health_pb2.HealthCheckResponse.SerializeToString),
        "Watch": stream(health.watch, request_deserializer=health_pb2.HealthCheckRequest.FromString,
                        response_serializer=health_pb2.HealthCheckResponse.SerializeToString),
    })
    # plugin.Empty and google.protobuf.Empty have no fields: their encoding is zero bytes either way.
    controller = grpc.method_handlers_generic_handler("plugin.GRPCController", {
        "Shutdown": unary(shutdown, request_deserializer=_raw, response_serializer=_raw),
    })
    stdio = grpc.method_handlers_generic_handler("plugin.GRPCStdio", {
        "StreamStdio": stream(lambda request, context: iter(()), request_deserializer=_raw, response_serializer=_raw),
    })
    return [task_service, health_service, controller, stdio]


class Health:
    """grpc.health.v1.Health: the service "plugin" (and the server as a whole, "") is SERVING."""

    def _status(self, service):
        if service in ("", "plugin"):
            return health_pb2.HealthCheckResponse.SERVING
        return health_pb2.HealthCheckResponse.SERVICE_UNKNOWN

    def check(self, request, context):
        status = self._status(request.service)
        if status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service %r" % request.service)
        return health_pb2.HealthCheckResponse(status=status)

    def watch(self, request, context):
        yield health_pb2.HealthCheckResponse(status=self._status(request.service))
        while context.is_active():
            time.sleep(1)


def _watch_parent(stop):
    """Ends the plugin when the harness that started it is gone (the plugin is re-parented)."""
    parent = os.getppid()
    while not stop.wait(1.0):
        if os.getppid() != parent:
            log.warning("the harness is gone; exiting")
            stop.set()


def serve():
    """Serves the plugin until the harness shuts it down; returns the exit status."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s: %(levelname)s: %(message)s")
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "")
    if versions and str(PROTOCOL_VERSION) not in [v.strip() for v in versions.split(",")]:
        print("%s speaks plugin protocol %d; the harness asked for %s" % (align.NAME, PROTOCOL_VERSION, versions),
              file=sys.stderr)
        return 1
    stop = threading.Event()

    def shutdown(request, context):
        stop.set()
        return b""

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=[
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ])
    server.add_generic_rpc_handlers(handlers(Task(), Health(), shutdown))
    port = server.add_insecure_port("127.0.0.1:0")
    if port == 0:
        print("%s: cannot listen on 127.0.0.1" % align.NAME, file=sys.stderr)
        return 1
    server.start()
    threading.Thread(target=_watch_parent, args=(stop,), daemon=True).start()
    # go-plugin's handshake line: core protocol 1, app protocol 2, network, address, protocol.
    sys.stdout.write("1|%d|tcp|127.0.0.1:%d|grpc\n" % (PROTOCOL_VERSION, port))
    sys.stdout.flush()
    stop.wait()
    server.stop(grace=1).wait()
    return 0
