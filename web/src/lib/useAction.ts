// One call a form or a button makes: busy while it runs (its button disabled), the server's
// message kept when it fails, cleared when it runs again.
import { useCallback, useState } from "react";
import { errorText } from "./api";

export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  /** Runs ``work``; true when it succeeded. */
  const run = useCallback(async (work: () => Promise<unknown>): Promise<boolean> => {
    setBusy(true);
    setError("");
    try {
      await work();
      return true;
    } catch (caught) {
      setError(errorText(caught));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}
