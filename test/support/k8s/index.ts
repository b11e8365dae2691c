/**
 * Checks on the rendered Kubernetes manifests (k8s/, README "Kubernetes"). Each check returns the
 * problems it found, one readable line each, so a test asserts `[]` and a mutation test can assert
 * that breaking one rule makes exactly that check speak up.
 */

import { checkAvailability, checkProbes } from './availability';
import { checkEnvironment } from './environment';
import { checkFederation } from './federation';
import { checkJobs } from './jobs';
import { checkNetworkPolicies } from './network-policies';
import { checkIngress } from './routing';
import { checkSchemas } from './schemas';
import { checkNamespaceAndSecrets, checkPodSecurity } from './security';
import { checkDatabaseCapacity, checkExternalStores } from './stores';

export { render, type K8sObject } from './render';
export { HTTP_APPS, NAMESPACE, SECRET_NAME, httpAppWorkload, index, suiteContainer, type HttpApp, type Manifests, type Workload } from './manifests';
export { CONTRACT_ROUTES, NEVER_ROUTED, route } from './routing';
export { CLI_CRONJOBS } from './jobs';
export { commentedJsonArray, mountedFile } from './federation';
export {
  checkSchemas,
  checkNamespaceAndSecrets,
  checkPodSecurity,
  checkProbes,
  checkEnvironment,
  checkAvailability,
  checkIngress,
  checkNetworkPolicies,
  checkJobs,
  checkDatabaseCapacity,
  checkExternalStores,
  checkFederation,
};

export const ALL_CHECKS = {
  checkSchemas,
  checkNamespaceAndSecrets,
  checkPodSecurity,
  checkProbes,
  checkEnvironment,
  checkAvailability,
  checkIngress,
  checkNetworkPolicies,
  checkJobs,
  checkDatabaseCapacity,
  checkExternalStores,
  checkFederation,
} as const;
