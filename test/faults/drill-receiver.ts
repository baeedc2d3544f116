/**
 * The hostile-client drill's webhook receiver, as a process of its own at the lowest
 * priority (low-priority.ts): in production receivers are other machines. Answers every
 * request 200; `GET /count` answers how many deliveries it has had. Prints `listening PORT`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { lowerOwnPriority } from './low-priority.js';

lowerOwnPriority();
let count = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') {
    res.end(String(count));
    return;
  }
  req.resume();
  req.on('end', () => {
    count++;
    res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
