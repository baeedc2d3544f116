import { GraphQLError } from 'graphql';

export type ReadLimits = {
  /** Rows one request may read: its cost limit, which the cost counts in rows. */
  rows: number;
  /** Bytes of stored event data one request may read (payloads are up to 256 KiB each). */
  bytes: number;
};

/**
 * What one request may still read. The cost limit refuses an operation that could read
 * too much before it runs; this stops one that does, whatever the estimate said. Once
 * spent, every later read of the request fails too, so execution winds down at once, and
 * the response carries one RESPONSE_TOO_LARGE error instead of a partial result.
 */
export function createReadBudget(limits: ReadLimits) {
  let rows = 0;
  let bytes = 0;
  let exceeded = false;
  return {
    /** Counts a read; throws once the request has read more than it may. */
    spend(rowCount: number, byteCount = 0) {
      rows += rowCount;
      bytes += byteCount;
      if (rows > limits.rows || bytes > limits.bytes) exceeded = true;
      if (exceeded) throw responseTooLarge(limits);
    },
    /** Bytes of event data read so far (charged to the key's read rate afterwards). */
    get bytesRead() {
      return bytes;
    },
  };
}

export type ReadBudget = ReturnType<typeof createReadBudget>;

function responseTooLarge(limits: ReadLimits): GraphQLError {
  return new GraphQLError(
    `This operation reads more than one request may (${limits.rows} rows, ${Math.round(limits.bytes / 1024 / 1024)} MiB of event data): ask for smaller pages or fewer fields`,
    { extensions: { code: 'RESPONSE_TOO_LARGE', http: { status: 400 } } },
  );
}
