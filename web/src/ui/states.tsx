import type { CombinedError } from '@urql/core';
import type { ComponentChildren } from 'preact';
import { describeError } from '../client.js';

export function Loading({ what }: { what: string }) {
  return (
    <p role="status" class="muted">
      Loading {what}…
    </p>
  );
}

export function ErrorState({ error, onRetry }: { error: CombinedError; onRetry: () => void }) {
  return (
    <div role="alert" class="error">
      <p>{describeError(error)}</p>
      <button type="button" onClick={onRetry}>
        Try again
      </button>
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** The secret or key a mutation returns, shown this once. */
export function ShownOnce(props: { label: string; value: string; note: string }) {
  return (
    <div class="shown-once">
      <label>
        {props.label}
        <input readOnly value={props.value} onFocus={(event) => event.currentTarget.select()} />
      </label>
      <p>{props.note}</p>
    </div>
  );
}
