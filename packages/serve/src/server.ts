/**
 * `createServer`: a TensorFlow Serving-compatible REST server for vqkit
 * tokenizers and priors, on fastify.
 *
 *   GET  /v1/models/{name}[/versions/{v}]              model status
 *   GET  /v1/models/{name}[/versions/{v}]/metadata     signatures and their tensors
 *   POST /v1/models/{name}[/versions/{v}]:predict      run a signature (row or columnar format)
 *   GET  /healthz                                      readiness
 *
 * Robustness: a request body limit (413), a pixel limit read from image
 * headers before decoding (413), a batch limit (413), bounded concurrency
 * with a bounded queue (503 beyond it), a per-request deadline (503 if it
 * never started, 504 if it did), graceful `close()` that finishes admitted
 * requests, and every error answered as `{"error": "…"}` — a malformed
 * request never takes the process down.
 */
import { InvalidArgumentError } from '@vqkit/core';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AdmissionQueue } from './admission.js';
import { BadRequestError, ClientClosedRequestError, HttpError, NotFoundError, httpStatusOf } from './errors.js';
import { formatPredictResponse, parsePredictBody, toInstances } from './predict.js';
import { buildRegistry, type ServedModel, type ServedModelOptions } from './registry.js';
import { DEFAULT_SIGNATURE } from './signature.js';
import { modelMetadataJson, modelStatusJson } from './tf-serving.js';

/** Limits of a server; every field has a default (see {@link DEFAULT_SERVE_LIMITS}). */
export interface ServeLimits {
  /** Largest request body in bytes (base64 inflates binary data by 4/3). Default 16 MiB. */
  maxBodyBytes: number;
  /** Largest image in pixels, checked from the header before decoding; also bounds decompressed and decoded images. Default 2^24 (4096×4096). */
  maxImagePixels: number;
  /** Longest audio in seconds, accepted or produced (audio tokenizers). Default 600. */
  maxAudioSeconds: number;
  /** Most instances in one predict request. Default 64. */
  maxBatch: number;
  /** Predict requests running at once. Default 2 (inference runs on one thread; a second slot overlaps image decoding and I/O). */
  maxConcurrent: number;
  /** Predict requests waiting for a slot; more are refused with 503. Default 64. */
  maxQueue: number;
  /** Deadline of a predict request from its arrival, in milliseconds (also the time allowed to receive a request). Default 30 000. */
  requestTimeoutMs: number;
}

export const DEFAULT_SERVE_LIMITS: Readonly<ServeLimits> = Object.freeze({
  maxBodyBytes: 16 * 1024 * 1024,
  maxImagePixels: 2 ** 24,
  maxAudioSeconds: 600,
  maxBatch: 64,
  maxConcurrent: 2,
  maxQueue: 64,
  requestTimeoutMs: 30_000,
});

export interface CreateServerOptions {
  models: readonly ServedModelOptions[];
  limits?: Partial<ServeLimits>;
  /**
   * What fastify's logger (pino, JSON lines on stdout) prints: nothing
   * (`'silent'`, the default), internal errors (`'error'`), or every request
   * (`'info'`).
   */
  logLevel?: 'silent' | 'error' | 'info';
}

export interface ListenOptions {
  /** Default 8501 (TF Serving's REST port); 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface VqkitServer {
  /** The fastify instance (for `inject` in tests, hooks, extra routes). */
  readonly app: FastifyInstance;
  readonly models: ReadonlyMap<string, ServedModel>;
  readonly limits: Readonly<ServeLimits>;
  /** The queue predict requests run through (its `running` / `waiting` counts are also in `/healthz`). */
  readonly admission: AdmissionQueue;
  /** Starts listening; resolves with the base URL, e.g. `http://127.0.0.1:8501`. */
  listen(options?: ListenOptions): Promise<string>;
  /**
   * Stops accepting requests (new ones get 503), lets every admitted request
   * finish, then closes the socket and frees the models the server owns.
   * Idempotent.
   */
  close(): Promise<void>;
}

function resolveLimits(partial: Partial<ServeLimits> = {}): ServeLimits {
  const limits: ServeLimits = { ...DEFAULT_SERVE_LIMITS };
  for (const [key, value] of Object.entries(partial) as [keyof ServeLimits, number | undefined][]) {
    if (value === undefined) continue;
    const min = key === 'maxQueue' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < min) throw new InvalidArgumentError(`limits.${key} must be an integer ≥ ${min}, got ${value}`);
    limits[key] = value;
  }
  return limits;
}

/** `name:verb` (the last path segment of a predict URL) split at its last colon. */
function splitVerb(segment: string): { name: string; verb: string | undefined } {
  const i = segment.lastIndexOf(':');
  return i < 0 ? { name: segment, verb: undefined } : { name: segment.slice(0, i), verb: segment.slice(i + 1) };
}

function parseVersion(text: string): number {
  if (!/^[0-9]{1,15}$/.test(text)) throw new BadRequestError(`model version must be a positive integer, got ${JSON.stringify(text.slice(0, 32))}`);
  return Number(text);
}

/** Creates a server for `options.models` (not yet listening). */
export function createServer(options: CreateServerOptions): VqkitServer {
  const limits = resolveLimits(options.limits);
  const models = buildRegistry(options.models, limits);
  const admission = new AdmissionQueue({ maxConcurrent: limits.maxConcurrent, maxQueue: limits.maxQueue, timeoutMs: limits.requestTimeoutMs });
  let closing: Promise<void> | undefined;

  const app = Fastify({
    logger: (options.logLevel ?? 'silent') === 'silent' ? false : { level: options.logLevel },
    bodyLimit: limits.maxBodyBytes,
    requestTimeout: limits.requestTimeoutMs,
    // A name with ':predict' and a version stay far below this.
    routerOptions: { maxParamLength: 256 },
    return503OnClosing: true,
  });

  // TF Serving reads the body as JSON whatever the Content-Type (`curl -d`
  // sends application/x-www-form-urlencoded), so one JSON parser takes every
  // type. It rejects __proto__/constructor keys like fastify's own.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const status = httpStatusOf(err);
    const known = err instanceof HttpError || status < 500;
    if (!known) request.log.error({ err }, 'internal error');
    const message = known && err instanceof Error ? err.message : 'internal server error';
    if (status === 503) void reply.header('retry-after', '1');
    void reply.code(status).send({ error: message });
  });
  // While closing, answers end their connection: keep-alive sockets would
  // otherwise hold the close open until they time out.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing !== undefined) void reply.header('connection', 'close');
    return payload;
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: `Malformed request: ${request.method} ${request.url.slice(0, 256)}` });
  });

  const findModel = (name: string, version: string | undefined): ServedModel => {
    const model = models.get(name);
    const v = version === undefined ? undefined : parseVersion(version);
    if (model === undefined || (v !== undefined && v !== model.version)) {
      throw new NotFoundError(`Servable not found for request: ${v === undefined ? `Latest(${name})` : `Specific(${name}, ${v})`}`);
    }
    return model;
  };
  const state = (): 'AVAILABLE' | 'UNLOADING' => (closing === undefined ? 'AVAILABLE' : 'UNLOADING');

  app.get('/healthz', async (_request, reply) => {
    if (closing !== undefined) return reply.code(503).send({ status: 'shutting down' });
    return { status: 'ok', models: [...models.keys()], running: admission.running, waiting: admission.waiting };
  });

  type ModelParams = { model: string; version?: string };
  app.get<{ Params: ModelParams }>('/v1/models/:model', async (request) => modelStatusJson(findModel(request.params.model, undefined), state()));
  app.get<{ Params: ModelParams }>('/v1/models/:model/versions/:version', async (request) =>
    modelStatusJson(findModel(request.params.model, request.params.version), state()),
  );
  app.get<{ Params: ModelParams }>('/v1/models/:model/metadata', async (request) => modelMetadataJson(findModel(request.params.model, undefined)));
  app.get<{ Params: ModelParams }>('/v1/models/:model/versions/:version/metadata', async (request) =>
    modelMetadataJson(findModel(request.params.model, request.params.version)),
  );

  const predict = async (name: string, version: string | undefined, verb: string | undefined, body: unknown, reply: FastifyReply): Promise<unknown> => {
    if (verb === undefined) throw new NotFoundError(`Malformed request: POST needs a ':predict' verb (POST /v1/models/${name}:predict)`);
    const model = findModel(name, version);
    if (verb === 'classify' || verb === 'regress') throw new BadRequestError(`vqkit models serve ':predict' only, not ':${verb}'`);
    if (verb !== 'predict') throw new NotFoundError(`Malformed request: unknown verb ':${verb.slice(0, 32)}'`);
    const request = parsePredictBody(body);
    const signatureName = request.signatureName ?? DEFAULT_SIGNATURE;
    const signature = model.signatures.get(signatureName);
    if (signature === undefined) {
      throw new NotFoundError(`Serving signature name: "${signatureName.slice(0, 64)}" not found in signature def; model '${model.name}' has ${[...model.signatures.keys()].join(', ')}`);
    }
    const instances = toInstances(request, signature, limits.maxBatch);
    // A client that hangs up gives its queue place (or its sampling loop) back.
    const clientGone = new AbortController();
    const onClose = (): void => {
      if (!reply.raw.writableEnded) clientGone.abort(new ClientClosedRequestError());
    };
    reply.raw.once('close', onClose);
    const outputs = await admission.run((signal) => signature.run(instances, { signal }), { signal: clientGone.signal });
    return formatPredictResponse(request.format, signature, outputs);
  };

  app.post<{ Params: { model: string } }>('/v1/models/:model', async (request, reply) => {
    const { name, verb } = splitVerb(request.params.model);
    return predict(name, undefined, verb, request.body, reply);
  });
  app.post<{ Params: { model: string; version: string } }>('/v1/models/:model/versions/:version', async (request, reply) => {
    const { name: version, verb } = splitVerb(request.params.version);
    return predict(request.params.model, version, verb, request.body, reply);
  });

  return {
    app,
    models,
    limits,
    admission,
    async listen(listenOptions: ListenOptions = {}): Promise<string> {
      return app.listen({ port: listenOptions.port ?? 8501, host: listenOptions.host ?? '127.0.0.1' });
    },
    close(): Promise<void> {
      closing ??= (async () => {
        await Promise.all([admission.drain(), app.close()]);
        for (const model of models.values()) model.dispose();
      })();
      return closing;
    },
  };
}
