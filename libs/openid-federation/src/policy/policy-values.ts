import { MetadataPolicyError } from '../chain/trust-chain-error';

/** OpenID Federation 1.0 §6.1: metadata_policy = {entity type: {parameter: {operator: operand}}}. */
export type OperatorPolicy = Readonly<Record<string, unknown>>;
export type ParameterPolicies = Readonly<Record<string, OperatorPolicy>>;
export type MetadataPolicy = Readonly<Record<string, ParameterPolicies>>;
export type EntityMetadata = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/**
 * §6.1.3.1: the standard operators, in the order §6.1.4.2 applies them. The suite supports every one;
 * a chain whose `metadata_policy_crit` names any other is refused (§6.1.3.2), an unknown operator
 * not named there is ignored.
 */
export const POLICY_OPERATORS = ['value', 'add', 'default', 'one_of', 'subset_of', 'superset_of', 'essential'] as const;
export type PolicyOperator = (typeof POLICY_OPERATORS)[number];

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON equality that ignores member order in objects (not in arrays). */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isRecord(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

export function contains(list: readonly unknown[], item: unknown): boolean {
  return list.some((x) => sameJson(x, item));
}

export function union(a: readonly unknown[], b: readonly unknown[]): unknown[] {
  return [...a, ...b.filter((x) => !contains(a, x))];
}

export function intersection(a: readonly unknown[], b: readonly unknown[]): unknown[] {
  return a.filter((x) => contains(b, x));
}

export function isSubset(a: readonly unknown[], of: readonly unknown[]): boolean {
  return a.every((x) => contains(of, x));
}

/** The operand of an array operator; anything else makes the policy unusable. */
export function arrayOperand(where: string, operator: string, v: unknown): unknown[] {
  if (!Array.isArray(v)) throw new MetadataPolicyError(`${where}: ${operator} must be an array`);
  return v;
}
