import { createSocket } from 'node:dgram';
import { cleanup } from './cleanup.js';

/** How to answer a question: IPv4 addresses (none: "no data") with a TTL, NXDOMAIN, or never. */
export type NameAnswer = { a: string[]; ttl?: number } | 'nxdomain' | 'silent';

const TYPE_A = 1;

/**
 * A real UDP name server on 127.0.0.1 that answers as the test says: A records (AAAA and
 * other types get an empty answer), NXDOMAIN, or silence, as a name server that never
 * answers. Records the questions it got; closed when the test file ends.
 */
export async function createNameServer(answer: (name: string) => NameAnswer) {
  const questions: { name: string; type: number }[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (query, from) => {
    const question = parseQuestion(query);
    if (!question) return;
    questions.push({ name: question.name, type: question.type });
    const reply = answer(question.name);
    if (reply === 'silent') return;
    const records = reply !== 'nxdomain' && question.type === TYPE_A ? reply.a : [];
    const ttl = reply === 'nxdomain' ? 0 : (reply.ttl ?? 60);
    socket.send(response(query, question.end, reply === 'nxdomain' ? 3 : 0, records, ttl), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  cleanup(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return {
    /** For DNS_SERVERS. */
    address: `127.0.0.1:${port}`,
    questions,
    /** How many A questions `name` got. */
    asked: (name: string) => questions.filter((q) => q.name === name && q.type === TYPE_A).length,
  };
}

function parseQuestion(query: Buffer): { name: string; type: number; end: number } | undefined {
  const labels: string[] = [];
  let at = 12;
  while (at < query.length) {
    const length = query[at] ?? 0;
    at++;
    if (length === 0) break;
    labels.push(query.subarray(at, at + length).toString('ascii'));
    at += length;
  }
  if (at + 4 > query.length) return undefined;
  return { name: labels.join('.').toLowerCase(), type: query.readUInt16BE(at), end: at + 4 };
}

/** The query's header and question, turned into a response with `addresses` as A records. */
function response(query: Buffer, questionEnd: number, rcode: number, addresses: string[], ttl: number): Buffer {
  const header = Buffer.from(query.subarray(0, 12));
  // QR, opcode 0, AA, RD copied, RA; then the response code.
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  header.writeUInt16BE(0, 8);
  header.writeUInt16BE(0, 10);
  const answers = addresses.map((address) => {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    record.writeUInt16BE(TYPE_A, 2);
    record.writeUInt16BE(1, 4); // class IN
    record.writeUInt32BE(ttl, 6);
    record.writeUInt16BE(4, 10);
    for (const [i, part] of address.split('.').entries()) record[12 + i] = Number(part);
    return record;
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
}
