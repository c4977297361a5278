import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * With WORKERS > 1 every worker keeps its own counters, and a scrape of /metrics lands on whichever
 * worker the connection reached. So a worker asks the primary, which gathers every worker's registry
 * (prom-client's AggregatorRegistry, over the cluster IPC channel) and answers with the sum: counters
 * never jump backwards between scrapes, whichever worker answers.
 */
const REQUEST = 'svcauth:metrics-request';
const RESPONSE = 'svcauth:metrics-response';
const TIMEOUT_MS = 5000;

interface MetricsRequest {
  type: typeof REQUEST;
  id: string;
}

interface MetricsResponse {
  type: typeof RESPONSE;
  id: string;
  body?: string;
  error?: string;
}

/** In the primary: answers workers' requests with the metrics of all workers together. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: MetricsRequest) => {
    if (message?.type !== REQUEST) return;
    const reply = (answer: Omit<MetricsResponse, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: RESPONSE, id: message.id, ...answer });
    };
    aggregator.clusterMetrics().then(
      (body) => reply({ body }),
      (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }),
    );
  });
}

/** In a worker: offers `registry` to the primary's aggregation and renders the aggregate on request. */
export class ClusterMetricsClient {
  readonly contentType: string;
  readonly #pending = new Map<string, (response: MetricsResponse) => void>();

  constructor(registry: Registry) {
    AggregatorRegistry.setRegistries([registry]);
    // Constructing one installs prom-client's listener that answers the primary's collection requests.
    this.contentType = new AggregatorRegistry().contentType;
    process.on('message', (message: MetricsResponse) => {
      if (message?.type === RESPONSE) this.#pending.get(message.id)?.(message);
    });
  }

  render(): Promise<string> {
    const id = randomUUID();
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error('the primary process did not answer with the workers’ metrics in time'));
      }, TIMEOUT_MS);
      this.#pending.set(id, (response) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        if (response.body !== undefined) resolve(response.body);
        else
          reject(new Error(`aggregating the workers’ metrics failed: ${response.error ?? 'unknown error'}`));
      });
      process.send?.({ type: REQUEST, id } satisfies MetricsRequest);
    });
  }
}
