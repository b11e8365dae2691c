/**
 * RFC 6749 §4.1.2: the response parameters are added to the redirect URI's query, keeping what it
 * already has (§3.1.2); a private-use scheme (RFC 8252 §7.1) is handled alike.
 */
export function redirectWith(redirectUri: string, params: Readonly<Record<string, string>>): string {
  const u = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}
