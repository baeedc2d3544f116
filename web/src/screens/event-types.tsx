import { useQuery } from '@urql/preact';
import { EventTypes } from '../operations.js';
import { ErrorState, Loading } from '../ui/states.js';

export function EventTypesScreen() {
  const [{ data, error, fetching }, refetch] = useQuery({ query: EventTypes });
  return (
    <>
      <h1 tabIndex={-1}>Event types</h1>
      <p>What each event means and what its payload looks like, as your receiver gets it (signed, as JSON).</p>
      {error && <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />}
      {!data && fetching && <Loading what="event types" />}
      {data?.eventTypes.map((type) => (
        <section key={type.name} class="event-type" aria-labelledby={`type-${type.name}`}>
          <h2 id={`type-${type.name}`}>
            <code>{type.name}</code>
          </h2>
          <p>{type.description}</p>
          <h3>Example payload</h3>
          <pre>{JSON.stringify(type.example, null, 2)}</pre>
        </section>
      ))}
    </>
  );
}
