import type { IncomingMessage } from 'node:http';

export type BoundedBody = { ok: true; bytes: Buffer } | { ok: false; received: number };

/**
 * Reads a request body of at most `maxBytes`, whatever its Content-Length says (a chunked body has
 * none). Stops at the first chunk past the limit and reports how many bytes had arrived by then; the
 * caller answers 413 in its own format. The one body reader of the HTTP layer.
 */
export async function readBoundedBody(req: IncomingMessage, maxBytes: number): Promise<BoundedBody> {
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > maxBytes) return { ok: false, received };
    chunks.push(chunk);
  }
  return { ok: true, bytes: Buffer.concat(chunks, received) };
}
