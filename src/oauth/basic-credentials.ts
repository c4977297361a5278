/** The two halves of an HTTP Basic `Authorization` header; a half is null when it does not decode. */
export interface BasicCredentials {
  id: string | null;
  secret: string | null;
}

/**
 * Reads `Authorization: Basic base64(id:secret)` as the OAuth endpoints accept it: RFC 6749 2.3.1 has
 * each half form-urlencoded before base64. Null when the header is not Basic with a non-empty id.
 */
export function readBasicCredentials(authorization: string | undefined): BasicCredentials | null {
  const match = /^basic ([A-Za-z0-9+/=]+)$/i.exec(authorization?.trim() ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}

function formDecode(value: string): string | null {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}
