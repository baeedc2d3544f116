import { useEffect, useRef, useState } from 'preact/hooks';
import { SignInError, signIn } from '../session.js';

export function SignInScreen({ notice }: { notice: string | null }) {
  const [error, setError] = useState<string | null>(notice);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    document.title = 'Sign in · Conversation webhooks';
    input.current?.focus();
  }, []);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(input.current?.value ?? '');
    } catch (caught) {
      setError(caught instanceof SignInError ? caught.message : 'The server could not be reached; try again.');
      setBusy(false);
      input.current?.focus();
    }
  }

  return (
    <main id="main" class="sign-in">
      <h1>Conversation webhooks</h1>
      <form onSubmit={submit}>
        <label>
          API key
          <input
            ref={input}
            name="apiKey"
            type="password"
            autocomplete="off"
            spellcheck={false}
            required
            aria-describedby="api-key-help"
          />
        </label>
        <p id="api-key-help" class="muted">
          A key of your workspace (chk_…). It goes to this server only; the browser never stores it.
        </p>
        {error && <p role="alert">{error}</p>}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
