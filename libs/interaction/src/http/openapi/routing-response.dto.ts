import { ApiProperty, ApiPropertyOptional, type ApiPropertyOptions } from '@nestjs/swagger';

const TEXT = { type: 'string', minLength: 1, maxLength: 200 } as const;
const LOGO = { type: 'string', format: 'uri', description: 'An https URL of an image.' } as const;

/** FED-6: `userPrompt` — select lists (`options`) and free-text fields (`inputs`, FED-7: `email` and `phone` only). */
const USER_PROMPT = {
  type: 'object',
  additionalProperties: false,
  description: 'What to ask the user; post each answer as a form parameter of its name, with `auth_session`.',
  properties: {
    options: {
      type: 'object',
      description: 'Select lists: the key is the parameter name; the value posted is a key of `values`.',
      additionalProperties: {
        type: 'object',
        required: ['title', 'values'],
        additionalProperties: false,
        properties: {
          title: TEXT,
          description: TEXT,
          values: { type: 'object', additionalProperties: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: TEXT, logo: LOGO } } },
        },
      },
    },
    inputs: {
      type: 'object',
      description: 'Free-text fields — never anything but `email` and `phone` (FED-7: not for credentials).',
      additionalProperties: false,
      properties: Object.fromEntries(
        ['email', 'phone'].map((k) => [k, { type: 'object', required: ['title'], additionalProperties: false, properties: { title: TEXT, hint: TEXT, description: TEXT } }]),
      ),
    },
  },
} as unknown as ApiPropertyOptions;

/** 400 `insufficient_information` (FED-6/7): the routing policy needs an answer before it can tell where the user signs in. */
export class InsufficientInformationDto {
  @ApiProperty({ type: String, enum: ['insufficient_information'] })
  error!: 'insufficient_information';

  @ApiProperty({ type: String })
  auth_session!: string;

  @ApiProperty(USER_PROMPT)
  userPrompt!: Record<string, unknown>;

  @ApiPropertyOptional({ type: String, format: 'uri', description: 'An https URL of a logo to show with the prompt.' })
  logo?: string;
}

/** 400 `federate` (FED-5/FED-10): continue at a downstream server's native endpoint, then post its result to `response_uri`. */
export class FederateDto {
  @ApiProperty({ type: String, enum: ['federate'] })
  error!: 'federate';

  @ApiProperty({ type: String })
  auth_session!: string;

  @ApiProperty({ type: String, format: 'uri', description: 'The downstream server’s native authorization endpoint: POST `federation_body` there (FED-13).' })
  federation_uri!: string;

  @ApiProperty({ type: String, description: 'Form-encoded: `client_id=<the suite’s client id there>&request_uri=<the request the suite pushed there>` (FED-11).' })
  federation_body!: string;

  @ApiProperty({ type: String, format: 'uri', description: '`<issuer>/federation/callback`: POST the downstream’s answer there with `auth_session` and a DPoP proof (FED-12).' })
  response_uri!: string;
}
