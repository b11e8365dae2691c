import Ajv, { type ValidateFunction } from 'ajv';
import { OAuthError } from '@fpa/oauth-core';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** RFC 9396 §2: one object of `authorization_details`; `type` names its kind. */
export interface AuthorizationDetail {
  readonly type: string;
  readonly [member: string]: Json;
}

/** How a deployment declares a type (AUTHORIZATION_DETAILS_FILE, or the embedded default's examples). */
export interface DetailTypeDefinition {
  readonly description?: string;
  /** A JSON Schema (draft 2020-12 / 07 subset ajv supports) for one object of this type. */
  readonly schema: Record<string, unknown>;
  /**
   * RAR-5 (RFC 9396 §6.1: narrowing is type-specific): the array members a token request may
   * narrow to a non-empty subset of what was granted. Default: RFC 9396 §2.2's common fields,
   * `locations`, `actions`, `datatypes` and `privileges` (their cross-product is what is granted, so a
   * subset of one is less). Every other member must be equal. `[]`: only whole objects.
   */
  readonly narrowable?: readonly string[];
}

/** RFC 9396 §2.2: the common fields whose values combine as a cross-product. */
export const COMMON_NARROWABLE = ['locations', 'actions', 'datatypes', 'privileges'] as const;

/** Bounds that keep a request's details cheap to validate, store and carry in a token. */
const MAX_DETAILS = 10;
const MAX_JSON_CHARS = 8192;

export class AuthorizationDetailsConfigError extends Error {}

/**
 * The RAR types this deployment understands (RFC 9396, RAR-1…9). Each is a JSON Schema checked by
 * ajv; a schema must close its objects (`additionalProperties: false`, RAR-4: unknown fields are
 * refused) and pin its own `type`, or the deployment does not start.
 */
export class AuthorizationDetailsRegistry {
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly descriptions = new Map<string, string>();
  private readonly narrowable = new Map<string, ReadonlySet<string>>();

  constructor(definitions: Readonly<Record<string, DetailTypeDefinition>>) {
    const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: false });
    for (const [type, def] of Object.entries(definitions)) {
      if (!/^[A-Za-z0-9_.:/-]{1,128}$/.test(type)) throw new AuthorizationDetailsConfigError(`authorization_details type "${type}" must be 1–128 ASCII name characters`);
      const schema = def.schema;
      if (schema.type !== 'object' || schema.additionalProperties !== false) {
        throw new AuthorizationDetailsConfigError(`authorization_details type ${type}: the schema must be an object schema with additionalProperties: false (RFC 9396 §5)`);
      }
      const props = schema.properties as Record<string, { const?: unknown }> | undefined;
      if (props?.type?.const !== type || !Array.isArray(schema.required) || !schema.required.includes('type')) {
        throw new AuthorizationDetailsConfigError(`authorization_details type ${type}: the schema must require "type" with const "${type}"`);
      }
      try {
        this.validators.set(type, ajv.compile(schema));
      } catch (e) {
        throw new AuthorizationDetailsConfigError(`authorization_details type ${type}: ${(e as Error).message}`);
      }
      if (def.description) this.descriptions.set(type, def.description);
      if (def.narrowable !== undefined && !(Array.isArray(def.narrowable) && def.narrowable.every((m) => typeof m === 'string' && m !== 'type'))) {
        throw new AuthorizationDetailsConfigError(`authorization_details type ${type}: narrowable must list member names (not "type")`);
      }
      this.narrowable.set(type, new Set(def.narrowable ?? COMMON_NARROWABLE));
    }
  }

  /** RAR-8: `authorization_details_types_supported`. */
  get types(): string[] {
    return [...this.validators.keys()];
  }

  description(type: string): string | undefined {
    return this.descriptions.get(type);
  }

  /**
   * RAR-1/RAR-4: the `authorization_details` parameter (a JSON array as a string, or already parsed
   * from a JSON body), validated — every object of a known type, allowed for this client, valid
   * against its schema — or `invalid_authorization_details`.
   */
  parse(raw: unknown, allowedForClient: readonly string[]): AuthorizationDetail[] {
    let value = raw;
    if (typeof raw === 'string') {
      if (raw.length > MAX_JSON_CHARS) throw refuse(`authorization_details is longer than ${MAX_JSON_CHARS} characters`);
      try {
        value = JSON.parse(raw);
      } catch {
        throw refuse('authorization_details must be a JSON array');
      }
    } else if (JSON.stringify(raw ?? null).length > MAX_JSON_CHARS) {
      throw refuse(`authorization_details is longer than ${MAX_JSON_CHARS} characters`);
    }
    if (!Array.isArray(value) || value.length === 0) throw refuse('authorization_details must be a non-empty JSON array');
    if (value.length > MAX_DETAILS) throw refuse(`at most ${MAX_DETAILS} authorization_details objects`);
    return value.map((detail, i) => {
      if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) throw refuse(`authorization_details[${i}] must be an object`);
      const type = (detail as Record<string, unknown>).type;
      if (typeof type !== 'string') throw refuse(`authorization_details[${i}] has no type`);
      const validate = this.validators.get(type);
      // RAR-4: an unknown type, and (RAR-8 client metadata) a type this client may not use, are refused alike.
      if (!validate || !allowedForClient.includes(type)) throw refuse(`authorization_details[${i}]: type ${JSON.stringify(type).slice(0, 80)} is unknown or not allowed for this client`);
      if (!validate(detail)) {
        const e = validate.errors?.[0];
        throw refuse(`authorization_details[${i}] (${type}): ${e ? `${e.instancePath || '/'} ${e.message}` : 'invalid'}`);
      }
      return detail as AuthorizationDetail;
    });
  }

  /**
   * RAR-5 (RFC 9396 §6, §6.1): a token request may ask for less than was granted. Each requested
   * object must lie within a granted one of its type: the same members, each equal — compared
   * exactly (RAR-9) — except the type's narrowable arrays, which may be a non-empty subset of the
   * granted values. So a grant of `actions: [read_balances, read_transactions]` yields a token for
   * `read_balances` alone, and never an edited amount or another account.
   */
  narrow(granted: readonly AuthorizationDetail[], requested: readonly AuthorizationDetail[]): AuthorizationDetail[] {
    for (const [i, d] of requested.entries()) {
      if (!granted.some((g) => this.within(d, g))) throw refuse(`authorization_details[${i}] was not granted`);
    }
    return [...requested];
  }

  private within(requested: AuthorizationDetail, granted: AuthorizationDetail): boolean {
    if (requested.type !== granted.type) return false;
    const members = Object.keys(granted);
    if (Object.keys(requested).length !== members.length) return false;
    const narrowable = this.narrowable.get(granted.type) ?? new Set<string>();
    return members.every((m) => {
      if (!Object.hasOwn(requested, m)) return false;
      const r: unknown = requested[m];
      const g: unknown = granted[m];
      if (narrowable.has(m) && Array.isArray(r) && Array.isArray(g)) {
        const allowed = new Set(g.map(canonical));
        return r.length > 0 && r.every((v) => allowed.has(canonical(v)));
      }
      return canonical(r) === canonical(g);
    });
  }
}

function refuse(description: string): OAuthError {
  return new OAuthError('invalid_authorization_details', description);
}

/** A JSON value with object members in a fixed order, so equal objects compare equal as strings. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
