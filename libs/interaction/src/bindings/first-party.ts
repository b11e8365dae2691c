import { OAuthError } from '@fpa/oauth-core';
import type { Client, ClientRegistry } from '@fpa/clients';

/** FIPA-1 / FIPA-11: only first-party clients that may obtain codes; a client_id sent anyway must match. */
export async function firstPartyClient(clients: ClientRegistry, clientId: string, claimed: string | undefined): Promise<Client> {
  if (claimed !== undefined && claimed !== clientId) throw new OAuthError('invalid_request', 'client_id does not match the session');
  const client = await clients.find(clientId);
  if (!client) throw new OAuthError('invalid_client', 'unknown or disabled client');
  if (!client.firstParty || !client.grantTypes.includes('authorization_code')) {
    throw new OAuthError('unauthorized_client', 'the authorization challenge endpoint is for first-party clients');
  }
  return client;
}
