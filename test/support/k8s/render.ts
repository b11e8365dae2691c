import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';

/** Rendering: `kubectl kustomize` on an overlay, parsed into plain objects. */

export const ROOT = join(__dirname, '..', '..', '..');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: IObjectMeta;
  [field: string]: unknown;
}

export const keyOf = (o: K8sObject): string => `${o.apiVersion}/${o.kind}`;
export const refOf = (o: K8sObject): string => `${o.kind}/${o.metadata?.name ?? '?'}`;

/** `kubectl kustomize k8s/overlays/<overlay>`, parsed. */
export function render(overlay: string): K8sObject[] {
  const dir = join(ROOT, 'k8s', 'overlays', overlay);
  let out: string;
  try {
    out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string };
    if (err.code === 'ENOENT') throw new Error('kubectl is not on PATH: the deployment checks render k8s/ with `kubectl kustomize` (kubectl ≥ 1.27, kustomize v5).');
    throw new Error(`kubectl kustomize k8s/overlays/${overlay} failed:\n${err.stderr ?? err.message}`);
  }
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(out)) {
    if (doc.errors.length > 0) throw new Error(`k8s/overlays/${overlay}: ${doc.errors[0].message}`);
    const obj = doc.toJS() as K8sObject | null;
    if (obj) objects.push(obj);
  }
  return objects;
}
