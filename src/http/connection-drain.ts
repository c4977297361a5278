import type { IncomingMessage, Server, ServerResponse } from 'node:http';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Graceful shutdown of an HTTP server with keep-alive clients. Once draining starts, every response
 * (to a request in flight or a new one on an existing connection) carries `Connection: close`, so
 * clients move to another instance instead of reusing a connection that is about to go; a connection
 * is ended as soon as its answer is out, idle ones at once. The server is closed as soon as nothing is
 * in flight; the grace period only bounds how long a slow request may take before its connection is
 * cut.
 */
export class ConnectionDrain {
  readonly #server: Server;
  readonly #inFlight = new Set<ServerResponse>();
  #draining: Promise<void> | null = null;

  constructor(server: Server) {
    this.#server = server;
  }

  /** Wraps the server's request listener so responses in flight are known. */
  track(listener: Listener): Listener {
    return (req, res) => {
      if (this.#draining) res.setHeader('Connection', 'close');
      this.#inFlight.add(res);
      res.once('close', () => this.#inFlight.delete(res));
      listener(req, res);
    };
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Stops accepting connections and resolves once every connection has ended: at once for idle ones,
   * after its answer for each request in flight, and at the latest after `graceMs` (then cut).
   */
  drain(graceMs: number): Promise<void> {
    this.#draining ??= new Promise<void>((resolve) => {
      for (const res of this.#inFlight) {
        if (!res.headersSent) res.setHeader('Connection', 'close');
        // Its headers already said keep-alive: end the connection once the answer is complete.
        else res.once('finish', () => setImmediate(() => this.#server.closeIdleConnections()));
      }
      const cut = setTimeout(() => this.#server.closeAllConnections(), graceMs);
      cut.unref();
      this.#server.close(() => {
        clearTimeout(cut);
        resolve();
      });
      this.#server.closeIdleConnections();
    });
    return this.#draining;
  }
}
