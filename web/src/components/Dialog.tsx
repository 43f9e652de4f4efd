// A modal dialog on the browser's own <dialog>: shown with showModal() it keeps focus inside,
// makes the page behind it inert for screen readers, and closes on Escape.
import { useEffect, useId, useRef, type ReactNode } from "react";

export interface DialogProps {
  /** The dialog's accessible name, also its heading. */
  title: string;
  onClose: () => void;
  children: ReactNode;
  /** Called on submit of the dialog's form (Enter in a field, or the submit button). */
  onSubmit?: () => void;
  className?: string;
  /** The id of what describes the dialog now (its error message), read with its name. */
  describedBy?: string;
}

export function Dialog({ title, onClose, children, onSubmit, className, describedBy }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const closeRef = useRef(onClose);
  closeRef.current = onClose;

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement as HTMLElement | null;
    if (!dialog.open) dialog.showModal();
    const onCancel = (event: Event) => {
      event.preventDefault();
      closeRef.current();
    };
    dialog.addEventListener("cancel", onCancel);
    return () => {
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      opener?.focus?.();
    };
  }, []);

  return (
    <dialog ref={ref} aria-labelledby={titleId} aria-describedby={describedBy}
            className={`dialog ${className ?? ""}`}>
      <form method="dialog" onSubmit={(event) => {
        event.preventDefault();
        onSubmit?.();
      }}>
        <header className="dialog-head">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="icon" aria-label="Close" onClick={onClose}>×</button>
        </header>
        <div className="dialog-body">{children}</div>
      </form>
    </dialog>
  );
}
