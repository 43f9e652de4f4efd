// A count on a page's link in the top bar (the Copilot link's unread alerts): read with the
// link's name by a screen reader, drawn as a small red pill.
import "./NavBadge.css";

export function NavBadge({ count, what, testId }: { count: number; what: string; testId?: string }) {
  if (count <= 0) return null;
  return (
    <span className="nav-badge" data-testid={testId}>
      <span className="sr-only">({count} {what}{count === 1 ? "" : "s"})</span>
      <span aria-hidden="true">{count > 99 ? "99+" : count}</span>
    </span>
  );
}
