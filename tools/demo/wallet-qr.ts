import { toString as qrToString } from 'qrcode';

/**
 * Renders an `openid4vp://` link (cross-device flow, issue 11) as a QR code for the terminal: what the demo prints
 * for a phone wallet to scan. `small` packs two rows per character so a request_uri link fits an 80-column terminal.
 */
export async function terminalQr(link: string): Promise<string> {
  return qrToString(link, { type: 'terminal', small: true, errorCorrectionLevel: 'L' });
}
