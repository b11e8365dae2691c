import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The login page's static files. `login.js` is ours (no build step: plain ES2020); `webauthn.js`
 * is @simplewebauthn/browser's UMD bundle, read from the installed package (never a CDN).
 */
export const LOGIN_JS = `'use strict';
(function () {
  var data = document.getElementById('fpa-webauthn');
  var button = document.getElementById('fpa-webauthn-start');
  if (data && button) {
    var spec = JSON.parse(data.textContent);
    var form = document.getElementById('fpa-webauthn-form');
    button.addEventListener('click', function () {
      var lib = window.SimpleWebAuthnBrowser;
      var run = spec.mode === 'register' ? lib.startRegistration({ optionsJSON: spec.options }) : lib.startAuthentication({ optionsJSON: spec.options });
      button.disabled = true;
      run.then(function (response) {
        form.querySelector('input[name=credential]').value = JSON.stringify(response);
        form.submit();
      }, function (e) {
        button.disabled = false;
        var error = document.getElementById('error');
        error.textContent = 'The passkey could not be used (' + (e && e.name ? e.name : 'error') + '). Try again or choose another way.';
        error.hidden = false;
      });
    });
  }
  var poll = document.getElementById('fpa-poll');
  if (poll) setTimeout(function () { poll.form.submit(); }, Number(poll.dataset.interval || 5) * 1000);
})();
`;

export const LOGIN_CSS = `:root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5; }
body { margin: 0; display: flex; justify-content: center; }
main { width: min(28rem, 100% - 2rem); margin: 3rem 0; }
h1 { font-size: 1.5rem; } h2 { font-size: 1rem; margin-top: 1.5rem; }
.client { display: flex; align-items: center; gap: .75rem; font-weight: 600; }
.logo { border-radius: .5rem; }
form { margin: .75rem 0; display: grid; gap: .5rem; }
label { font-weight: 600; }
input { font: inherit; padding: .6rem; border: 1px solid #888; border-radius: .4rem; }
button { font: inherit; padding: .65rem 1rem; border-radius: .4rem; border: 0; background: #1a56db; color: #fff; cursor: pointer; }
button.secondary { background: transparent; color: inherit; border: 1px solid #888; }
button:focus-visible, input:focus-visible, a:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.error { border: 1px solid #b91c1c; color: #b91c1c; padding: .6rem; border-radius: .4rem; }
.detail { border: 1px solid #888; border-radius: .4rem; padding: .5rem .75rem; }
.detail dt { font-weight: 600; } .detail dd { margin: 0 0 .4rem 0; }
`;

let webauthn: string | undefined;

/** @simplewebauthn/browser's bundle, read once. */
export function webauthnBundle(): string {
  // The package exports only its modules; the bundle sits beside them (its `unpkg` entry).
  webauthn ??= readFileSync(join(dirname(dirname(require.resolve('@simplewebauthn/browser'))), 'dist', 'bundle', 'index.umd.min.js'), 'utf8');
  return webauthn;
}
