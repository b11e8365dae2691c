import { readFile } from 'node:fs/promises';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { randomToken } from '@fpa/crypto';
import { ClientEntity, toClient, type Client } from './client.entity';
import {
  clientDefinitionRules,
  ClientDefinitionError,
  defaultAuthMethods,
  validateClientDefinition,
  type ClientDefinition,
  type ClientDefinitionRules,
} from './client-definition';
import { ClientRegistry, hashClientSecret } from './client-registry.service';

export interface CreatedClient {
  readonly client: Client;
  /** Shown once; only its hash is stored. */
  readonly secret?: string;
}

/** Write side of the registry, shared by the CLI, the clients file loader and the embedded bootstrap. */
@Injectable()
export class ClientAdminService {
  private readonly rules: ClientDefinitionRules;

  constructor(
    @InjectRepository(ClientEntity) private readonly repo: Repository<ClientEntity>,
    private readonly registry: ClientRegistry,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.rules = clientDefinitionRules(config);
  }

  /** Shape, cross-field rules and (for inline jwks) key import, under this deployment's rules. */
  validate(input: unknown): Promise<ClientDefinition> {
    return validateClientDefinition(input, this.rules);
  }

  async create(input: unknown): Promise<CreatedClient> {
    const def = await this.validate(input);
    if (await this.repo.existsBy({ clientId: def.client_id })) {
      throw new ClientDefinitionError(`client ${def.client_id} already exists`);
    }
    let secret: string | undefined;
    let secretHash = def.secret_hash ?? null;
    // Only a client that may authenticate with a secret gets one (a private_key_jwt-only client
    // signs with its own keys; a secret printed for it could never be used).
    if (def.type === 'confidential' && !secretHash && usesSecret(def)) {
      secret = randomToken(32);
      secretHash = hashClientSecret(secret);
    }
    const saved = await this.repo.save(this.toEntity(def, secretHash));
    this.registry.invalidate(def.client_id);
    return { client: toClient(saved), secret };
  }

  /** Inserts or updates from a definition; keeps an existing secret unless the definition names one. */
  async upsert(input: unknown): Promise<Client> {
    const def = await this.validate(input);
    const existing = await this.repo.findOneBy({ clientId: def.client_id });
    const secretHash = def.secret_hash ?? existing?.secretHash ?? null;
    if (def.type === 'confidential' && !secretHash && usesSecret(def)) {
      throw new ClientDefinitionError(`client ${def.client_id}: confidential clients in a file need secret_hash`);
    }
    const saved = await this.repo.save(this.toEntity(def, secretHash));
    this.registry.invalidate(def.client_id);
    return toClient(saved);
  }

  /** Creates the client only when absent (first-start bootstrap of `demo-app`). */
  async ensure(input: unknown): Promise<{ client: Client; created: boolean }> {
    const def = await this.validate(input);
    const existing = await this.repo.findOneBy({ clientId: def.client_id });
    if (existing) return { client: toClient(existing), created: false };
    return { client: (await this.create(def)).client, created: true };
  }

  async loadFile(path: string): Promise<Client[]> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(path, 'utf8'));
    } catch (e) {
      throw new ClientDefinitionError(`CLIENTS_FILE ${path}: ${(e as Error).message}`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { clients?: unknown })?.clients;
    if (!Array.isArray(list)) throw new ClientDefinitionError(`CLIENTS_FILE ${path}: expected {"clients": [...]}`);
    // Every definition is checked before any is written: a bad file changes nothing.
    const defs: ClientDefinition[] = [];
    for (const c of list) defs.push(await this.validate(c));
    const out: Client[] = [];
    for (const def of defs) out.push(await this.upsert(def));
    return out;
  }

  async list(): Promise<Client[]> {
    return (await this.repo.find({ order: { clientId: 'ASC' } })).map(toClient);
  }

  async setEnabled(clientId: string, enabled: boolean): Promise<Client> {
    const row = await this.repo.findOneBy({ clientId });
    if (!row) throw new ClientDefinitionError(`client ${clientId} does not exist`);
    row.enabled = enabled;
    const saved = await this.repo.save(row);
    this.registry.invalidate(clientId);
    return toClient(saved);
  }

  async rotateSecret(clientId: string): Promise<string> {
    const row = await this.repo.findOneBy({ clientId });
    if (!row || row.clientType !== 'confidential') throw new ClientDefinitionError(`no confidential client ${clientId}`);
    const secret = randomToken(32);
    row.secretHash = hashClientSecret(secret);
    await this.repo.save(row);
    this.registry.invalidate(clientId);
    return secret;
  }

  private toEntity(def: ClientDefinition, secretHash: string | null): ClientEntity {
    const e = new ClientEntity();
    e.clientId = def.client_id;
    e.name = def.name ?? def.client_id;
    e.clientType = def.type;
    e.firstParty = def.first_party ?? false;
    e.grantTypes = def.grant_types ?? [];
    e.authMethods = def.auth_methods ?? defaultAuthMethods(def.type);
    e.secretHash = secretHash;
    e.scopes = def.scopes ?? [];
    e.resources = def.resources ?? [];
    e.permissions = def.permissions ?? [];
    e.dpopBoundAccessTokens = def.dpop_bound_access_tokens ?? def.type === 'public';
    e.enabled = def.enabled ?? true;
    e.challengePolicy = def.challenge_policy ?? null;
    e.routingPolicy = def.routing_policy ?? null;
    e.assertionAudience = def.assertion_audience ?? null;
    e.redirectUris = def.redirect_uris ?? [];
    e.jwks = def.jwks ?? null;
    e.jwksUri = def.jwks_uri ?? null;
    e.authorizationDetailsTypes = def.authorization_details_types ?? [];
    e.nativeCallbackUris = def.native_callback_uris ?? [];
    e.origins = def.origins ?? [];
    e.openid4vpRedirectUris = def.openid4vp_redirect_uris ?? [];
    e.requirePushedAuthorizationRequests = def.require_pushed_authorization_requests ?? false;
    e.logoUri = def.logo_uri ?? null;
    e.redirectToApp = def.redirect_to_app ? { deep_link: def.redirect_to_app.deep_link, app_client_ids: [...def.redirect_to_app.app_client_ids] } : null;
    return e;
  }
}

function usesSecret(def: ClientDefinition): boolean {
  return (def.auth_methods ?? defaultAuthMethods(def.type)).some((m) => m.startsWith('client_secret'));
}
