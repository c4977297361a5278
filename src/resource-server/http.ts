/** The few HTTP details every module shares: Basic credentials, JSON requests with a timeout. */
import type { FetchFunction } from './options.ts';

/** RFC 6749 2.3.1: each part is form-urlencoded, then `name:secret` is base64-encoded. */
export function basicAuthorization(name: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${btoa(`${encode(name)}:${encode(secret)}`)}`;
}

export class HttpError extends Error {
  readonly status: number | null;
  constructor(message: string, status: number | null, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'HttpError';
    this.status = status;
  }
}

/** One request whose answer must be a 200 JSON object; anything else throws an HttpError. */
export async function requestJson(
  fetchFunction: FetchFunction,
  url: string,
  init: RequestInit & { timeoutMs: number },
): Promise<Record<string, unknown>> {
  const { timeoutMs, ...rest } = init;
  let response: Response;
  try {
    response = await fetchFunction(url, {
      redirect: 'error',
      ...rest,
      headers: { accept: 'application/json', ...(rest.headers as Record<string, string> | undefined) },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new HttpError(`${rest.method ?? 'GET'} ${url} failed: ${(error as Error).message}`, null, error);
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {});
    throw new HttpError(`${rest.method ?? 'GET'} ${url} answered ${response.status}`, response.status);
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    throw new HttpError(`${rest.method ?? 'GET'} ${url} did not answer JSON`, response.status, error);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(`${rest.method ?? 'GET'} ${url} did not answer a JSON object`, response.status);
  }
  return body as Record<string, unknown>;
}
