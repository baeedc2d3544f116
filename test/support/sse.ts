/** A GraphQL subscription over server-sent events, as a browser or graphql-sse client would open it. */
export async function subscribe(
  url: string,
  query: string,
  options: { apiKey?: string; variables?: Record<string, unknown>; headers?: Record<string, string> } = {},
) {
  const controller = new AbortController();
  const body = JSON.stringify({ query, variables: options.variables });
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(options.apiKey ? { 'x-api-key': options.apiKey } : {}),
      ...options.headers,
    },
    body,
    signal: controller.signal,
  });
  const events: any[] = [];
  const waiters: { test: (events: any[]) => boolean; resolve: () => void }[] = [];
  const reading = (async () => {
    if (!response.body || !response.headers.get('content-type')?.includes('text/event-stream')) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = message
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trim())
            .join('\n');
          if (data) events.push(JSON.parse(data));
          for (const w of [...waiters]) {
            if (w.test(events)) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve();
            }
          }
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    status: response.status,
    response,
    events,
    /** Resolves when the server ends the stream (or it is closed). */
    ended: reading,
    /** Resolves when the events received so far satisfy `test`. */
    until(test: (events: any[]) => boolean, timeoutMs = 10_000): Promise<void> {
      if (test(events)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`subscription saw ${JSON.stringify(events)}`)), timeoutMs);
        waiters.push({
          test,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    async close() {
      controller.abort();
      await reading;
    },
  };
}
