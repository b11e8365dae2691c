import type { INestApplication } from '@nestjs/common';
import type { ComponentsObject, HeaderObject, OperationObject, PathItemObject, SchemaObject, TagObject } from '@nestjs/swagger';

/** The service that answers a path behind the one issuer (CONTRACT §1), as the ingress routes it. */
export type SuiteService = 'registration' | 'token' | 'challenge' | 'federation';

/**
 * A response header. `x-query-parameters` (an extension) is the schema of the parameters a
 * `Location` carries in its query, e.g. an authorization response (RFC 6749 §4.1.2, RFC 9207).
 */
export type OpenApiHeader = HeaderObject & { readonly 'x-query-parameters'?: SchemaObject };

/** A path item that says which service serves it (`x-service`): the document spans four services. */
export type OpenApiPathItem = PathItemObject & { readonly 'x-service': SuiteService };

export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'options' | 'head' | 'patch' | 'trace';
export const HTTP_METHODS: readonly HttpMethod[] = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * What a feature contributes to the suite's OpenAPI document: its paths and the components they
 * use, as plain data (no Nest module has to be loaded to read it), or — for a part generated from
 * decorators, like the challenge endpoint's — a function of the running app.
 */
export interface OpenApiFragment {
  /** Names the contributor in start-up errors. */
  readonly name: string;
  readonly paths: Readonly<Record<string, OpenApiPathItem>>;
  readonly components?: ComponentsObject;
  readonly tags?: readonly TagObject[];
}

export type OpenApiContribution = OpenApiFragment | ((app: INestApplication) => OpenApiFragment);

/** The operations of a path item, by method. */
export function operationsOf(item: PathItemObject): [HttpMethod, OperationObject][] {
  return HTTP_METHODS.flatMap((m) => (item[m] ? [[m, item[m]] as [HttpMethod, OperationObject]] : []));
}
