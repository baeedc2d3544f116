import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

export type ListenOptions = { port: number; secret?: string; json: boolean; write: (line: string) => void };

type Payload = { type?: string; agentId?: string; data?: unknown };

/**
 * A local receiver for development: prints each delivery it gets, verified with the
 * stock Standard Webhooks library when a secret is given, and acknowledges it (204); a
 * delivery whose signature does not verify gets 400.
 */
export function listen({ port, secret, json, write }: ListenOptions) {
  const verifier = secret ? new Webhook(secret) : undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id'] ?? '');
      let verified: boolean | null = null;
      let payload: Payload | undefined;
      try {
        payload = (
          verifier ? verifier.verify(body, req.headers as Record<string, string>) : JSON.parse(body)
        ) as Payload;
        if (verifier) verified = true;
      } catch {
        if (verifier) verified = false;
      }
      if (json) {
        const { type = null, agentId = null, data = null } = payload ?? {};
        write(JSON.stringify({ id, verified, type, agentId, data }));
      } else {
        const mark =
          verified === true ? 'verified' : verified === false ? 'INVALID SIGNATURE' : 'unverified (no --secret)';
        const summary = `${payload?.type ?? '?'}  ${id}  agent=${payload?.agentId ?? '?'}  ${JSON.stringify(payload?.data ?? null)}`;
        write(`${new Date().toISOString()}  ${mark}  ${summary}`);
      }
      res.writeHead(verified === false ? 400 : 204).end();
    });
  });
  return new Promise<typeof server>((resolve) => server.listen(port, () => resolve(server)));
}
