import net from 'node:net';

/**
 * A TCP relay to 127.0.0.1:targetPort that a test can hold: while held, new connections are accepted
 * but nothing passes until release(), so the test decides when a client's reconnect completes. A
 * connection closed on one side is closed on the other, so a server restart reaches the client.
 */
export class HoldingProxy {
  readonly #targetPort: number;
  readonly #server = net.createServer((client) => this.#accept(client));
  readonly #sockets = new Set<net.Socket>();
  #held: Array<() => void> | null = null;
  port = 0;

  constructor(targetPort: number) {
    this.#targetPort = targetPort;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as net.AddressInfo).port;
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Connections made from now on wait until release(). */
  hold(): void {
    this.#held ??= [];
  }

  /**
   * A partition between the clients and the target, which keeps running (and keeps its contents): open
   * connections are reset, new ones wait until release().
   */
  cut(): void {
    this.hold();
    for (const socket of this.#sockets) socket.resetAndDestroy();
  }

  release(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const relay of held) relay();
  }

  async close(): Promise<void> {
    this.release();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    this.#track(client);
    client.on('error', () => {});
    const relay = () => {
      if (client.destroyed) return;
      const upstream = net.connect(this.#targetPort, '127.0.0.1');
      this.#track(upstream);
      upstream.on('error', () => {});
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    };
    if (this.#held) this.#held.push(relay);
    else relay();
  }

  #track(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
  }
}
