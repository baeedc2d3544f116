import { type DocumentNode, GraphQLError, Kind, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';

export type ReadLimits = {
  /** Rows one request may read: its cost limit, which the cost counts in rows. */
  rows: number;
  /** Bytes one response may carry: every string and JSON value, every copy of it. */
  bytes: number;
  /**
   * Counts one request may make: exact ones (`totalCount`) read every row they count,
   * bounded ones (`boundedCount`) up to 1,001 index entries each.
   */
  counts: number;
};

/**
 * What one request (or one subscription message) may still read and send. The cost limit
 * refuses an operation that could read too much before it runs; this stops one that does,
 * whatever the estimate said. Rows are counted where they are read; bytes where the
 * response is produced (graphql/response-bytes.ts charges every leaf as it resolves), so
 * an id asked for a hundred times is charged a hundred times. Once spent, every later
 * read fails too, and a query's execution is stopped (`stopWith`), so not one more field
 * resolves (no decryption, no copy, no error per remaining field); the response carries
 * one RESPONSE_TOO_LARGE error instead of a partial result.
 */
export function createReadBudget(limits: ReadLimits) {
  let rows = 0;
  let bytes = 0;
  let counts = 0;
  // One error for the whole request, thrown again by every read still in flight: building
  // (and locating) an error per remaining field is work of its own, hundreds of times over.
  let refusal: GraphQLError | undefined;
  let stop: ((reason: GraphQLError) => void) | undefined;
  return {
    /** Called with the refusal once the budget is spent: a query's execution aborts there. */
    stopWith(abort: (reason: GraphQLError) => void) {
      stop = abort;
    },
    /**
     * Refuses an operation selecting more counts than it may, before anything runs (each
     * alias of a page would read its page first, and only then meet its count).
     */
    checkSelectedCounts(document: DocumentNode, operation: OperationDefinitionNode) {
      if (countsSelected(document, operation, limits.counts) > limits.counts) throw tooManyCounts(limits.counts);
    },
    /** Takes one count (exact or bounded) before it runs; throws past the request's share. */
    count() {
      if (refusal) throw refusal;
      counts += 1;
      if (counts > limits.counts) {
        refusal = tooManyCounts(limits.counts);
        stop?.(refusal);
        throw refusal;
      }
    },
    /** Counts a read; throws once the request has read more than it may. */
    spend(rowCount: number, byteCount = 0) {
      if (refusal) throw refusal;
      rows += rowCount;
      bytes += byteCount;
      if (rows > limits.rows || bytes > limits.bytes) {
        refusal = responseTooLarge(limits);
        stop?.(refusal);
        throw refusal;
      }
    },
    /** Bytes of response produced so far (charged to the key's read rate afterwards). */
    get bytesRead() {
      return bytes;
    },
  };
}

export type ReadBudget = ReturnType<typeof createReadBudget>;

function tooManyCounts(max: number): GraphQLError {
  return new GraphQLError(
    `This operation asks for more than ${max} counts (totalCount or boundedCount): each counts the rows it matches, so ask for at most ${max} per request`,
    // Located at the root, as responseTooLarge: rethrown as it is by every field that meets it.
    { path: [], extensions: { code: 'OPERATION_TOO_COMPLEX', http: { status: 400 } } },
  );
}

const COUNT_FIELDS = new Set(['totalCount', 'boundedCount']);

/**
 * The counts (`totalCount`, `boundedCount`) a document selects, every alias and every use
 * of a fragment counted, as they would run (the same field under many parents of one page
 * is one statement, so one count); stops once past `max`. Each fragment is counted once
 * and its count reused, so fragments spreading each other many times over cost no more.
 */
export function countsSelected(document: DocumentNode, operation: OperationDefinitionNode, max: number): number {
  const fragments = new Map<string, SelectionSetNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition.selectionSet);
  }
  const ofFragment = new Map<string, number>();
  const countIn = (set: SelectionSetNode): number => {
    let total = 0;
    for (const selection of set.selections) {
      if (total > max) break;
      if (selection.kind === Kind.FIELD) {
        if (COUNT_FIELDS.has(selection.name.value)) total += 1;
        if (selection.selectionSet) total += countIn(selection.selectionSet);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        total += countIn(selection.selectionSet);
      } else {
        const name = selection.name.value;
        let counted = ofFragment.get(name);
        if (counted === undefined) {
          // Cycles never get here (validation refuses them); 0 meanwhile, should one.
          ofFragment.set(name, 0);
          const fragment = fragments.get(name);
          counted = fragment ? countIn(fragment) : 0;
          ofFragment.set(name, counted);
        }
        total += counted;
      }
    }
    return total;
  };
  return countIn(operation.selectionSet);
}

function responseTooLarge(limits: ReadLimits): GraphQLError {
  return new GraphQLError(
    `This operation reads more than one request may (${limits.rows} rows, ${Math.round(limits.bytes / 1024 / 1024)} MiB of response): ask for smaller pages or fewer fields`,
    // A path (the operation's root) marks it located: graphql-js rethrows it as it is
    // instead of wrapping it anew at every field (use-operation-limits.ts answers it alone).
    { path: [], extensions: { code: 'RESPONSE_TOO_LARGE', http: { status: 400 } } },
  );
}
