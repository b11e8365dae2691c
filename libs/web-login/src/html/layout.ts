import type { Client } from '@fpa/clients';
import { esc } from './escape';

export const ASSET_PATH = '/authorize/assets';

export interface LayoutOptions {
  readonly title: string;
  readonly client?: Client;
  /** Shown in a live region, announced to screen readers. */
  readonly error?: string;
  readonly body: string;
  /** Loads the login script (passkeys, polling); OTP pages work without it. */
  readonly script?: boolean;
}

/** The one page frame: language, viewport, the client's name and logo, an error region, no inline script or style. */
export function layout(o: LayoutOptions): string {
  const logo = o.client?.logoUri ? `<img class="logo" src="${esc(o.client.logoUri)}" alt="" width="48" height="48">` : '';
  const who = o.client ? `<p class="client">${logo}<span>${esc(o.client.name)}</span></p>` : '';
  const error = `<div id="error" class="error" role="alert" aria-live="assertive"${o.error ? '' : ' hidden'}>${esc(o.error ?? '')}</div>`;
  const scripts = o.script ? `<script src="${ASSET_PATH}/webauthn.js" defer></script><script src="${ASSET_PATH}/login.js" defer></script>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(o.title)}</title>
<link rel="stylesheet" href="${ASSET_PATH}/login.css">
${scripts}
</head>
<body>
<main>
${who}
<h1>${esc(o.title)}</h1>
${error}
${o.body}
</main>
</body>
</html>
`;
}
