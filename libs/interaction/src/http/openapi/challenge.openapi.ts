import type { INestApplication, Type } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, getSchemaPath, type OpenAPIObject, type SchemaObject } from '@nestjs/swagger';
import { APP_CONFIG, type AppConfig } from '@fpa/config';
import { CHALLENGE_METHODS, type ChallengeRegistry } from '@fpa/challenge-kit';
import { BODY_PARSER_RESPONSES, type OpenApiFragment, type OpenApiPathItem } from '@fpa/openapi';
import { ChallengeModule } from '../../interaction.module';
import { AuthorizeChallengeFollowUpRequestDto, AuthorizeChallengeInitialRequestDto, DEVICE_TOKEN_SCHEME } from './challenge-request.dto';
import { InsufficientAuthorizationDto } from './challenge-response.dto';

export const CHALLENGE_TAG = 'authorization challenge';

/**
 * The authorization challenge endpoint's part of the suite's OpenAPI document, generated from the
 * DTOs and the controller's decorators and completed with what only the running app knows: the
 * enabled `challenge_type` values and the request parameters the plugged-in modules declare.
 */
export function challengeOpenApi(app: INestApplication): OpenApiFragment {
  const config = app.get<AppConfig>(APP_CONFIG, { strict: false });
  const frame = new DocumentBuilder()
    .addSecurity(DEVICE_TOKEN_SCHEME, {
      type: 'http',
      scheme: 'DPoP',
      description: 'Way (b): a registered device’s DPoP-bound access token from client_credentials; the DPoP proof then carries `ath` (RFC 9449 §7).',
    })
    .build();
  const generated = SwaggerModule.createDocument(app, frame, { include: [ChallengeModule] });
  describePluggedMethods(generated, app, config);
  const paths: Record<string, OpenApiPathItem> = {};
  for (const [path, item] of Object.entries(generated.paths)) {
    // The body parser answers before the controller, as at every endpoint.
    if (item.post) item.post.responses = { ...item.post.responses, ...BODY_PARSER_RESPONSES };
    paths[path] = { ...item, 'x-service': 'challenge' };
  }
  return {
    name: 'authorization challenge endpoint (generated)',
    paths,
    components: generated.components,
    tags: [
      {
        name: CHALLENGE_TAG,
        description: [
          'OAuth 2.0 for First-Party Applications (draft-ietf-oauth-first-party-apps-04) as profiled by first-party-auth (CONTRACT §5), also advertised as the federation draft’s `native_authorization_endpoint`.',
          'Every request carries a DPoP proof (RFC 9449) for the endpoint URL; answers carry `DPoP-Nonce` and `Cache-Control: no-store`. See docs/challenge-modules.md for the wire profile and how challenge modules plug in.',
        ].join(' '),
      },
    ],
  };
}

/** The enabled methods become enums; parameters a module declares and the DTOs do not name are added. */
function describePluggedMethods(document: OpenAPIObject, app: INestApplication, config: AppConfig): void {
  let registry: ChallengeRegistry;
  try {
    registry = app.get<ChallengeRegistry>(CHALLENGE_METHODS, { strict: false });
  } catch {
    return;
  }
  const enabled = [...registry.keys()].filter((id) => config.challenge.methods.includes(id));
  if (enabled.length === 0) return;
  const schemas = document.components?.schemas ?? {};
  const schema = (cls: Type): SchemaObject | undefined => schemas[getSchemaPath(cls).split('/').pop()!] as SchemaObject | undefined;
  const requests = [schema(AuthorizeChallengeInitialRequestDto), schema(AuthorizeChallengeFollowUpRequestDto)].filter((s): s is SchemaObject => s !== undefined);
  const named = new Set(requests.flatMap((r) => Object.keys(r.properties ?? {})));
  for (const request of requests) {
    const props = (request.properties ??= {});
    const challengeType = props.challenge_type as SchemaObject | undefined;
    if (challengeType) challengeType.enum = enabled;
    for (const id of enabled) {
      for (const p of registry.get(id)!.parameters) {
        if (!named.has(p)) props[p] = { type: 'string', description: `Read by the \`${id}\` challenge module.` };
      }
    }
  }
  const reply = schema(InsufficientAuthorizationDto);
  if (reply?.properties) {
    (reply.properties.challenge_type as SchemaObject).enum = enabled;
    const status = reply.properties.status as SchemaObject | undefined;
    if (status?.enum) status.enum = [...new Set([...status.enum, ...enabled.flatMap((id) => registry.get(id)!.statuses ?? [])])];
    ((reply.properties.methods as SchemaObject).items as SchemaObject).enum = enabled;
  }
}
