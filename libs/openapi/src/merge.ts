import type { ComponentsObject, OpenAPIObject, TagObject } from '@nestjs/swagger';
import { operationsOf, type OpenApiFragment } from './fragment';

export class OpenApiMergeError extends Error {}

/**
 * One document from fragments (node-oidc-provider's and immich's habit: two contributors claiming
 * the same key stop start-up). A path, a component name or an operationId contributed twice is an
 * error, whatever the values; a tag may repeat only with the same text. Every local `$ref` of the
 * result must resolve. The fragments are copied, never changed.
 */
export function mergeFragments(base: OpenAPIObject, fragments: readonly OpenApiFragment[]): OpenAPIObject {
  const doc: OpenAPIObject = { ...structuredClone(base), paths: {}, components: {} };
  const pathOwner = new Map<string, string>();
  const componentOwner = new Map<string, string>();
  const operationOwner = new Map<string, string>();
  const tags = new Map<string, { tag: TagObject; owner: string }>();
  const seen = new Set<string>();

  for (const fragment of fragments) {
    if (seen.has(fragment.name)) throw new OpenApiMergeError(`OpenAPI fragment "${fragment.name}" is registered twice`);
    seen.add(fragment.name);
    const copy = structuredClone(fragment);
    for (const [path, item] of Object.entries(copy.paths)) {
      const owner = pathOwner.get(path);
      if (owner !== undefined) throw new OpenApiMergeError(`OpenAPI path ${path} is contributed by both "${owner}" and "${fragment.name}"`);
      pathOwner.set(path, fragment.name);
      for (const [method, op] of operationsOf(item)) {
        if (op.operationId === undefined) continue;
        const prior = operationOwner.get(op.operationId);
        if (prior !== undefined) throw new OpenApiMergeError(`OpenAPI operationId ${op.operationId} (${method.toUpperCase()} ${path}) is also used by "${prior}"`);
        operationOwner.set(op.operationId, fragment.name);
      }
      doc.paths[path] = item;
    }
    for (const [kind, entries] of Object.entries(copy.components ?? {}) as [keyof ComponentsObject, Record<string, unknown>][]) {
      const target = ((doc.components as Record<string, Record<string, unknown>>)[kind] ??= {});
      for (const [name, value] of Object.entries(entries ?? {})) {
        const key = `${kind}/${name}`;
        const owner = componentOwner.get(key);
        if (owner !== undefined) throw new OpenApiMergeError(`OpenAPI component ${key} is contributed by both "${owner}" and "${fragment.name}"`);
        componentOwner.set(key, fragment.name);
        target[name] = value;
      }
    }
    for (const tag of copy.tags ?? []) {
      const prior = tags.get(tag.name);
      if (prior && JSON.stringify(prior.tag) !== JSON.stringify(tag)) {
        throw new OpenApiMergeError(`OpenAPI tag ${tag.name} is described differently by "${prior.owner}" and "${fragment.name}"`);
      }
      if (!prior) tags.set(tag.name, { tag, owner: fragment.name });
    }
  }
  if (tags.size > 0) doc.tags = [...(doc.tags ?? []), ...[...tags.values()].map((t) => t.tag)];
  const dangling = danglingReferences(doc);
  if (dangling.length > 0) throw new OpenApiMergeError(`OpenAPI references that resolve to nothing: ${dangling.join(', ')}`);
  return doc;
}

/** Every local `$ref` (`#/…`) in `doc` that names nothing. */
export function danglingReferences(doc: object): string[] {
  const missing = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') {
        if (!v.startsWith('#/') || resolvePointer(doc, v) === undefined) missing.add(v);
      } else visit(v);
    }
  };
  visit(doc);
  return [...missing];
}

/** RFC 6901 JSON Pointer in a URI fragment (`#/components/schemas/X`); undefined when nothing is there. */
export function resolvePointer(doc: object, ref: string): unknown {
  let node: unknown = doc;
  for (const raw of ref.replace(/^#\//, '').split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
