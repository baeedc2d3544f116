import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * /metrics across the API processes of one machine (API_PROCESSES > 1). Whichever process
 * the port hands a scrape to asks the primary, which collects every process's figures over
 * IPC (its own included: the delivery worker runs there) and aggregates them with
 * prom-client's AggregatorRegistry: counters and histograms summed, gauges summed unless
 * the metric says otherwise (`aggregator`). Nothing is read from the database.
 */
const SCRAPE = 'convo-hooks:scrape';
const SCRAPED = 'convo-hooks:scraped';
const COLLECT = 'convo-hooks:collect-metrics';
const COLLECTED = 'convo-hooks:collected-metrics';

/** A process that does not answer within this is left out of the scrape rather than failing it. */
const COLLECT_TIMEOUT_MS = 2_000;
const SCRAPE_TIMEOUT_MS = 5_000;

type Figures = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
type Message = { type?: unknown; id?: unknown; metrics?: Figures; text?: string; error?: string };

/** In the primary: answers scrapes forwarded by the API processes with every process's figures. */
export function answerScrapes(own: Registry) {
  const waiting = new Map<number, (metrics: Figures | undefined) => void>();
  let nextId = 0;
  const collectFrom = (worker: Worker) =>
    new Promise<Figures | undefined>((resolve) => {
      const id = nextId++;
      const timer = setTimeout(() => settle(undefined), COLLECT_TIMEOUT_MS);
      const settle = (metrics: Figures | undefined) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(metrics);
      };
      waiting.set(id, settle);
      worker.send({ type: COLLECT, id }, (error: Error | null) => error && settle(undefined));
    });
  const aggregated = async () => {
    const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker =>
      Boolean(worker?.isConnected()),
    );
    const collected = await Promise.all([own.getMetricsAsJSON(), ...workers.map(collectFrom)]);
    return AggregatorRegistry.aggregate(collected.filter((metrics) => metrics !== undefined)).metrics();
  };
  cluster.on('message', (worker, message: Message) => {
    if (message?.type === COLLECTED && typeof message.id === 'number') {
      waiting.get(message.id)?.(message.metrics);
    } else if (message?.type === SCRAPE) {
      void aggregated().then(
        (text) => worker.send({ type: SCRAPED, id: message.id, text }),
        (error: unknown) =>
          worker.send({ type: SCRAPED, id: message.id, error: error instanceof Error ? error.message : 'failed' }),
      );
    }
  });
}

/**
 * In an API process: answers the primary's requests for this process's figures, and
 * returns the scrape function for /metrics, which asks the primary for everyone's.
 */
export function scrapeThroughPrimary(own: () => Registry): () => Promise<string> {
  const pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  process.on('message', (message: Message) => {
    if (message?.type === COLLECT) {
      void own()
        .getMetricsAsJSON()
        .then((metrics) => process.send?.({ type: COLLECTED, id: message.id, metrics }));
    } else if (message?.type === SCRAPED && typeof message.id === 'number') {
      const request = pending.get(message.id);
      pending.delete(message.id);
      if (message.text !== undefined) request?.resolve(message.text);
      else request?.reject(new Error(`aggregating metrics failed: ${message.error ?? 'unknown'}`));
    }
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('the primary process did not answer for metrics'));
      }, SCRAPE_TIMEOUT_MS);
      pending.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      // The channel is gone (the primary stopped): this process's own figures are all there is.
      const alone = () => {
        pending.delete(id);
        clearTimeout(timer);
        own().metrics().then(resolve, reject);
      };
      if (!process.connected || !process.send) alone();
      else process.send({ type: SCRAPE, id }, undefined, {}, (error: Error | null) => error && alone());
    });
}
