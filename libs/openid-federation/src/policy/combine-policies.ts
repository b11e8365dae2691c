import { MetadataPolicyError } from '../chain/trust-chain-error';
import { arrayOperand, contains, intersection, isRecord, isSubset, POLICY_OPERATORS, sameJson, union, type MetadataPolicy, type OperatorPolicy, type ParameterPolicies } from './policy-values';

/**
 * OpenID Federation 1.0 §6.1.4.1: the policies of a chain are merged from the trust anchor down, each
 * superior's policy with its subordinate's; a pair that cannot be merged makes the chain invalid.
 * Operators outside POLICY_OPERATORS were checked against `metadata_policy_crit` by the caller and
 * are dropped here.
 */
export function combinePolicies(superior: MetadataPolicy, subordinate: MetadataPolicy): MetadataPolicy {
  const out: Record<string, ParameterPolicies> = {};
  for (const type of new Set([...Object.keys(superior), ...Object.keys(subordinate)])) {
    const sup = entityPolicy(type, superior[type]);
    const sub = entityPolicy(type, subordinate[type]);
    const merged: Record<string, OperatorPolicy> = {};
    for (const param of new Set([...Object.keys(sup), ...Object.keys(sub)])) {
      const where = `${type}.${param}`;
      const combined = combineOperators(where, known(where, sup[param]), known(where, sub[param]));
      checkCombination(where, combined);
      merged[param] = combined;
    }
    out[type] = merged;
  }
  return out;
}

/** The policy of one chain, from the anchor's statement down to the leaf's superior's. */
export function combineChainPolicies(policiesTopDown: readonly MetadataPolicy[]): MetadataPolicy {
  return policiesTopDown.reduce((acc, p) => combinePolicies(acc, p), {} as MetadataPolicy);
}

function entityPolicy(type: string, v: unknown): ParameterPolicies {
  if (v === undefined) return {};
  if (!isRecord(v)) throw new MetadataPolicyError(`metadata_policy.${type} must be an object`);
  return v as ParameterPolicies;
}

function known(where: string, v: unknown): OperatorPolicy {
  if (v === undefined) return {};
  if (!isRecord(v)) throw new MetadataPolicyError(`${where}: a parameter policy must be an object`);
  return Object.fromEntries(Object.entries(v).filter(([op]) => (POLICY_OPERATORS as readonly string[]).includes(op)));
}

/** §6.1.3.1: how each operator merges. */
function combineOperators(where: string, sup: OperatorPolicy, sub: OperatorPolicy): OperatorPolicy {
  const out: Record<string, unknown> = { ...sup };
  for (const [op, value] of Object.entries(sub)) {
    if (!(op in sup)) {
      out[op] = value;
      continue;
    }
    const mine = sup[op];
    switch (op) {
      case 'value':
      case 'default':
        if (!sameJson(mine, value)) throw new MetadataPolicyError(`${where}: ${op} ${JSON.stringify(mine)} of a superior conflicts with ${JSON.stringify(value)} of a subordinate`);
        break;
      case 'add':
      case 'superset_of':
        out[op] = union(arrayOperand(where, op, mine), arrayOperand(where, op, value));
        break;
      case 'one_of': {
        const both = intersection(arrayOperand(where, op, mine), arrayOperand(where, op, value));
        if (both.length === 0) throw new MetadataPolicyError(`${where}: the one_of lists of a superior and a subordinate have no value in common`);
        out[op] = both;
        break;
      }
      case 'subset_of':
        out[op] = intersection(arrayOperand(where, op, mine), arrayOperand(where, op, value));
        break;
      case 'essential':
        if (typeof mine !== 'boolean' || typeof value !== 'boolean') throw new MetadataPolicyError(`${where}: essential must be a boolean`);
        // A subordinate may make a parameter essential, never undo a superior's essential=true.
        if (mine && !value) throw new MetadataPolicyError(`${where}: a subordinate sets essential=false where a superior requires it`);
        out[op] = mine || value;
        break;
    }
  }
  return out;
}

/** §6.1.3.1: operators in one merged policy must not contradict each other. */
function checkCombination(where: string, p: OperatorPolicy): void {
  const has = (op: string): boolean => p[op] !== undefined;
  const list = (op: string): unknown[] => arrayOperand(where, op, p[op]);
  const fail = (why: string): never => {
    throw new MetadataPolicyError(`${where}: ${why}`);
  };
  if (has('essential') && typeof p.essential !== 'boolean') fail('essential must be a boolean');
  if (has('one_of') && (has('add') || has('subset_of') || has('superset_of'))) fail('one_of cannot be combined with add, subset_of or superset_of');
  if (has('subset_of') && has('superset_of') && !isSubset(list('superset_of'), list('subset_of'))) fail('superset_of is not a subset of subset_of');
  if (has('add') && has('subset_of') && !isSubset(list('add'), list('subset_of'))) fail('add holds values outside subset_of');
  if ('value' in p) {
    const value = p.value;
    if (value === null) {
      if (p.essential === true) fail('value null (remove) conflicts with essential=true');
      return;
    }
    if (has('one_of') && !contains(list('one_of'), value)) fail('value is not one of one_of');
    if (has('add') && (!Array.isArray(value) || !isSubset(list('add'), value))) fail('value does not hold every add value');
    if (has('subset_of') && (!Array.isArray(value) || !isSubset(value, list('subset_of')))) fail('value is not a subset of subset_of');
    if (has('superset_of') && (!Array.isArray(value) || !isSubset(list('superset_of'), value))) fail('value is not a superset of superset_of');
  }
  if (has('default')) {
    if (has('one_of') && !contains(list('one_of'), p.default)) fail('default is not one of one_of');
    if (has('subset_of') && (!Array.isArray(p.default) || !isSubset(p.default, list('subset_of')))) fail('default is not a subset of subset_of');
    if (has('superset_of') && (!Array.isArray(p.default) || !isSubset(list('superset_of'), p.default))) fail('default is not a superset of superset_of');
  }
}
