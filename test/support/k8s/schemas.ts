import { join } from 'node:path';
import * as ts from 'typescript';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { Manifests } from './manifests';
import { keyOf, refOf, ROOT } from './render';

/** Schemas: the kinds allowed, each object validated by kubernetes-models, and no field its kind does not declare. */

type Validatable = new (data: never) => { validate(): void };

/** Every kind the manifests may contain: anything else (a CRD, a typo in apiVersion) is refused. */
const MODELS: Readonly<Record<string, Validatable>> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret, // known so the "no Secret manifests" check names it; never allowed
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

/** Every object is of a known kind and valid against its Kubernetes schema, with no unknown field. */
export function checkSchemas(m: Manifests): string[] {
  const problems: string[] = [];
  for (const o of m.objects) {
    const Model = MODELS[keyOf(o)];
    if (!Model) {
      problems.push(`${refOf(o)}: unknown kind ${keyOf(o)} (allowed: ${Object.keys(MODELS).join(', ')})`);
      continue;
    }
    try {
      new Model(o as never).validate();
    } catch (e) {
      problems.push(`${refOf(o)}: ${(e as Error).message}`);
    }
    problems.push(...fieldChecker().unknownFields(keyOf(o), o).map((p) => `${refOf(o)}: ${p}`));
  }
  return problems;
}

// --- unknown fields --------------------------------------------------------------------------------

/**
 * kubernetes-models validates types and required fields but lets unknown fields through, where the API
 * server (kubectl's default --validate=strict) refuses them. The models' TypeScript declarations list
 * every field, so the TypeScript checker walks each object against its kind's interface.
 */
class FieldChecker {
  private readonly checker: ts.TypeChecker;
  private readonly roots = new Map<string, ts.Type>();

  constructor(keys: readonly string[]) {
    const fileName = join(ROOT, 'test', 'support', '__k8s-kinds__.ts');
    const source = keys
      .map((key, i) => {
        const kind = key.slice(key.lastIndexOf('/') + 1);
        return `import type { I${kind} as T${i} } from 'kubernetes-models/${key}';\nexport type K${i} = T${i};`;
      })
      .join('\n');
    const options: ts.CompilerOptions = { noEmit: true, strict: true, skipLibCheck: true, types: [], target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, lib: ['lib.es2022.d.ts'] };
    const host = ts.createCompilerHost(options);
    const { getSourceFile, fileExists, readFile } = host;
    host.getSourceFile = (name, lang, ...rest) => (name === fileName ? ts.createSourceFile(name, source, lang) : getSourceFile.call(host, name, lang, ...rest));
    host.fileExists = (name) => name === fileName || fileExists.call(host, name);
    host.readFile = (name) => (name === fileName ? source : readFile.call(host, name));
    const program = ts.createProgram([fileName], options, host);
    this.checker = program.getTypeChecker();
    const file = program.getSourceFile(fileName)!;
    let i = 0;
    for (const statement of file.statements) {
      if (ts.isTypeAliasDeclaration(statement)) this.roots.set(keys[i++], this.checker.getTypeAtLocation(statement.name));
    }
  }

  unknownFields(key: string, value: unknown): string[] {
    const root = this.roots.get(key);
    const out: string[] = [];
    if (root) this.walk(value, root, '', out);
    return out;
  }

  private walk(value: unknown, declared: ts.Type, path: string, out: string[]): void {
    if (value === null || typeof value !== 'object') return;
    let type = this.checker.getNonNullableType(declared);
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
    if (type.isUnion()) {
      const objects = type.types.filter((t) => t.flags & ts.TypeFlags.Object);
      if (objects.length !== 1) return;
      type = objects[0];
    }
    if (Array.isArray(value)) {
      const element = this.checker.getIndexTypeOfType(type, ts.IndexKind.Number);
      if (element) value.forEach((v, i) => this.walk(v, element, `${path}[${i}]`, out));
      return;
    }
    const anyKey = this.checker.getIndexTypeOfType(type, ts.IndexKind.String);
    for (const [k, v] of Object.entries(value)) {
      const prop = this.checker.getPropertyOfType(type, k);
      if (prop) this.walk(v, this.checker.getTypeOfSymbol(prop), `${path}.${k}`, out);
      else if (anyKey) this.walk(v, anyKey, `${path}.${k}`, out);
      else out.push(`unknown field ${path.slice(1) ? `${path.slice(1)}.` : ''}${k}`);
    }
  }
}

let fields: FieldChecker | undefined;
function fieldChecker(): FieldChecker {
  fields ??= new FieldChecker(Object.keys(MODELS));
  return fields;
}
